import { useEffect, useState } from 'preact/hooks';
import { useCatalog } from '../catalog.js';
import { app, currentStore, useI18n, useStore } from '../state.js';
import { ago, dailySales, lastDays, rowsOf, salesDays, topSellers } from '../reports.js';
import { BarChart } from './Chart.jsx';

/** Today's sales from the daily_sales report: revenue, gross margin and bills (never units added
 * across different units: what sold is listed per product, each in its own unit, from top_sellers),
 * with the last seven days as a chart that shows its values. */
export function SalesToday({ storeId }) {
  const state = useStore(app);
  const { t, money, num, qty, lang, locale } = useI18n();
  const catalog = useCatalog();
  const tz = currentStore(state).timezone;
  const [report, setReport] = useState(null);
  const [top, setTop] = useState(null);

  useEffect(() => {
    const days = lastDays(tz, 7);
    dailySales(storeId, { from: days[0], to: days[6] }).then((r) => setReport({ ...r, days }));
    topSellers(storeId, { from: days[6], to: days[6], limit: 5 }).then(setTop);
  }, [storeId, tz]);

  const short = (v) => new Intl.NumberFormat(locale, { notation: 'compact', maximumFractionDigits: 1 }).format(String(v));
  let body;
  if (!report) body = <p class="muted">…</p>;
  else if (!report.available) body = <p class="muted" data-report="unavailable">{t('not_available')}</p>;
  else if (!report.data) body = <p class="muted">{report.error === 'forbidden' ? t('forbidden') : t('load_error', { reason: report.error })}</p>;
  else {
    const { today, bars } = salesDays(report.data, report.days);
    const sold = top?.data ? rowsOf(top.data) : [];
    body = (
      <>
        {report.saved_at ? <p class="muted saved-age" role="status">{t('saved_ago', { ago: ago(report.saved_at, locale) })}</p> : null}
        <dl class="kpis">
          <div><dt>{t('sales_total')}</dt><dd id="sales-total">{money(today.revenue)}</dd></div>
          <div>
            <dt>{t('margin')}</dt>
            <dd id="sales-margin">{today.margin != null ? money(today.margin) : '—'}</dd>
            {today.margin != null && today.pct != null ? <dd class="small muted" id="margin-pct">{t('margin_pct', { pct: num(today.pct) })}</dd> : null}
            {today.uncosted > 0 ? <dd class="small muted">{t('cost_unknown_n', { n: today.uncosted })}</dd> : null}
          </div>
          <div><dt>{t('sales_count')}</dt><dd id="sales-bills">{num(today.bills)}</dd></div>
        </dl>
        {sold.length ? (
          <>
            <h3>{t('sold_today')}</h3>
            <ul class="sold">
              {sold.map((r) => {
                const p = catalog.bySku.get(r.sku);
                return (
                  <li data-sku={r.sku}>
                    <span>{(p?.names && p.names[lang]) || p?.name || r.name || r.sku}</span>
                    <span class="num">{qty(r.units, p?.unit)} · {money(r.revenue)}</span>
                  </li>
                );
              })}
            </ul>
          </>
        ) : null}
        <BarChart
          bars={bars.map((b) => ({ label: b.day.slice(8), day: b.day, value: b.revenue }))}
          label={t('chart_caption')}
          format={money}
          short={short}
          dayLabel={(b) => new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${b.day}T00:00:00Z`))}
        />
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
