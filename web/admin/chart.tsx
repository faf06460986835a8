/**
 * Charts as plain SVG (no chart library): bars per day, stacked when there are several series. Colours come from
 * the stylesheet (classes, not inline style: the page's CSP forbids it) and are never the only signal: each
 * chart has a legend with the series' names and a table of its figures for screen readers and exact values.
 */
import type { ComponentChildren } from 'preact';

/** One series of a chart. */
export interface Series {
  name: string;
  values: number[];
}

const W = 640;
const H = 200;
const PAD = { left: 44, right: 8, top: 10, bottom: 24 };

/** A nice upper bound for the axis (1, 2 or 5 times a power of ten). */
function ceiling(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** A bar chart of per-day figures. */
export function BarChart({ id, title, labels, series }: { id: string; title: string; labels: string[]; series: Series[] }) {
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] ?? 0), 0));
  const top = ceiling(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / Math.max(1, labels.length);
  const barW = Math.max(1, step * 0.7);
  const y = (v: number): number => PAD.top + plotH - (v / top) * plotH;
  const tickEvery = Math.ceil(labels.length / 7);
  const bars: ComponentChildren[] = [];
  labels.forEach((label, i) => {
    let base = 0;
    series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      if (v > 0) {
        bars.push(<rect key={`${i}-${k}`} class={`series-${k + 1}`} x={PAD.left + i * step + (step - barW) / 2} y={y(base + v)} width={barW} height={y(base) - y(base + v)} />);
      }
      base += v;
    });
    if (i % tickEvery === 0) {
      bars.push(
        <text key={`t-${i}`} class="tick" x={PAD.left + i * step + step / 2} y={H - 6} text-anchor="middle">
          {label.slice(5)}
        </text>,
      );
    }
  });
  return (
    <figure class="chart" aria-labelledby={`${id}-title`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title`} preserveAspectRatio="none">
        {/* Whole numbers only: a half tick of a small axis would say 0.5 visits. */}
        {[0, 0.5, 1].filter((f) => Number.isInteger(top * f)).map((f) => (
          <g key={f}>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} />
            <text class="tick" x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end">
              {top * f}
            </text>
          </g>
        ))}
        {bars}
      </svg>
      {series.length > 1 && (
        <ul class="legend">
          {series.map((s, k) => (
            <li key={s.name}>
              <span class={`swatch series-${k + 1}`} aria-hidden="true" /> {s.name}
            </li>
          ))}
        </ul>
      )}
      <details>
        <summary>Figures: {title}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {series.map((s) => (
                <th scope="col" key={s.name}>
                  {s.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {labels.map((l, i) => (
              <tr key={l}>
                <th scope="row">{l}</th>
                {series.map((s) => (
                  <td key={s.name}>{s.values[i] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
