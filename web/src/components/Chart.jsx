// A small bar chart in SVG with each bar's value written on it, and the same figures as a table
// for screen readers (the drawing itself is hidden from them). Values are exact decimal strings;
// only the bar heights are scaled.
import { parse } from '../decimal.js';

export function BarChart({ bars, label, format, short, dayLabel }) {
  const width = 320;
  const height = 110;
  const top = 16; // room for the value above the tallest bar
  const values = bars.map((b) => parse(b.value, 5) ?? 0n); // revenue is exact to the thousandth of a paisa
  const max = values.reduce((m, v) => (v > m ? v : m), 1n);
  const step = width / Math.max(bars.length, 1);
  return (
    <figure class="chart-box">
      <svg class="chart" viewBox={`0 0 ${width} ${top + height + 18}`} aria-hidden="true" focusable="false">
        {bars.map((b, i) => {
          const h = Math.max(1, Math.round((Number((values[i] * 1000n) / max) / 1000) * height));
          const x = i * step + step / 2;
          return (
            <g>
              <rect x={i * step + step * 0.15} y={top + height - h} width={step * 0.7} height={h} rx="2" />
              <text class="bar-value" x={x} y={top + height - h - 4} text-anchor="middle">{short(b.value)}</text>
              <text x={x} y={top + height + 14} text-anchor="middle">{b.label}</text>
            </g>
          );
        })}
      </svg>
      <table class="sr">
        <caption>{label}</caption>
        <tbody>
          {bars.map((b) => (
            <tr><th scope="row">{dayLabel ? dayLabel(b) : b.label}</th><td>{format(b.value)}</td></tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
