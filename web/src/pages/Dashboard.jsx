import { useState } from 'preact/hooks';
import { app, useI18n, useStore } from '../state.js';
import { Alerts } from '../components/Alerts.jsx';
import { Reorder } from '../components/Reorder.jsx';
import { SalesToday } from '../components/SalesToday.jsx';
import { StockList } from '../components/StockList.jsx';
import { Voids } from '../components/Voids.jsx';

export function Dashboard() {
  const { storeId } = useStore(app);
  const { t } = useI18n();
  const [sku, setSku] = useState(null); // its movements open under its row in the stock list
  const [stockVersion, setStockVersion] = useState(0);
  return (
    <div class="page dashboard">
      <h1 class="sr">{t('dashboard')}</h1>
      <Alerts storeId={storeId} onChange={() => setStockVersion((v) => v + 1)} />
      <SalesToday storeId={storeId} />
      <Voids storeId={storeId} />
      <Reorder storeId={storeId} version={stockVersion} />
      <StockList storeId={storeId} version={stockVersion} selected={sku} onSelect={setSku} />
    </div>
  );
}
