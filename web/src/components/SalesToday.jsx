import { useEffect, useState } from 'preact/hooks';
import { app, currentStore, useI18n, useStore } from '../state.js';
import { dailySales, lastDays, salesDays } from '../reports.js';
import { BarChart } from './Chart.jsx';

/** Today's sales from the daily_sales report (bills, units, revenue per local day), with the last
 * seven days as a small chart. */
export function SalesToday({ storeId }) {
  const state = useStore(app);
  const { t, money, num } = useI18n();
  const tz = currentStore(state).timezone;
  const [report, setReport] = useState(null);

  useEffect(() => {
    const days = lastDays(tz, 7);
    dailySales(storeId, { from: days[0], to: days[6] }).then((r) => setReport({ ...r, days }));
  }, [storeId, tz]);

  let body;
  if (!report) body = <p class="muted">…</p>;
  else if (!report.available) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!report.data) body = <p class="muted">{report.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: report.error })}</p>;
  else {
    const { today, bars } = salesDays(report.data, report.days);
    body = (
      <>
        <dl class="kpis">
          <div><dt>{t('sales_total')}</dt><dd id="sales-total">{money(today.revenue)}</dd></div>
          <div><dt>{t('sales_count')}</dt><dd>{num(today.bills)}</dd></div>
          <div><dt>{t('items_sold')}</dt><dd>{num(today.units)}</dd></div>
        </dl>
        <BarChart bars={bars.map((b) => ({ label: b.day.slice(8), value: b.revenue }))} label={t('sales_today')} format={money} />
      </>
    );
  }
  return (
    <section class="card sales" aria-labelledby="sales-h">
      <h2 id="sales-h">{t('sales_today')}</h2>
      {body}
    </section>
  );
}
