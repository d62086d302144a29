// A small bar chart in SVG. Values are exact decimal strings; only the bar heights are scaled.
import { parseMoney } from '../decimal.js';

export function BarChart({ bars, label, format }) {
  const width = 320;
  const height = 120;
  const values = bars.map((b) => parseMoney(b.value) ?? 0n);
  const max = values.reduce((m, v) => (v > m ? v : m), 1n);
  const step = width / Math.max(bars.length, 1);
  return (
    <svg class="chart" viewBox={`0 0 ${width} ${height + 18}`} role="img" aria-label={label} preserveAspectRatio="none">
      {bars.map((b, i) => {
        const h = Math.max(1, Math.round((Number((values[i] * 1000n) / max) / 1000) * height));
        return (
          <g>
            <rect x={i * step + step * 0.15} y={height - h} width={step * 0.7} height={h} rx="2">
              <title>{`${b.label}: ${format(b.value)}`}</title>
            </rect>
            {bars.length <= 14 ? <text x={i * step + step / 2} y={height + 14} text-anchor="middle">{b.label}</text> : null}
          </g>
        );
      })}
    </svg>
  );
}
