/**
 * The benchmarks' pictures: a small SVG line chart written next to each JSON report (no dependency, no browser).
 * Axes with round ticks, one polyline per series, optional horizontal reference lines (a target, a floor), a
 * legend. Text is escaped; every input list is bounded by the caller's report.
 */

/** One line of a chart. */
export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  /** Dashed, for a reference series such as a floor measured separately. */
  dashed?: boolean;
}

/** What {@link lineChartSvg} draws. */
export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly ChartSeries[];
  /** Horizontal reference lines, e.g. a latency target. */
  hLines?: readonly { y: number; label: string }[];
  /** @default false */
  logX?: boolean;
}

const W = 720;
const H = 400;
const PAD = { left: 64, right: 24, top: 40, bottom: 64 };
const COLOURS = ['#e4572e', '#17bebb', '#2e86ab', '#76b041', '#a23b72', '#f18f01'];

const esc = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** Round tick values covering [min, max]. */
export function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

const fmt = (n: number) =>
  Math.abs(n) >= 1000 ? `${Number((n / 1000).toPrecision(3))}k` : String(Number(n.toPrecision(3)));

/** The chart as a standalone SVG document. */
export function lineChartSvg(chart: LineChart): string {
  const all = chart.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (chart.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const xs = all.map(([x]) => tx(x));
  const ys = [...all.map(([, y]) => y), ...(chart.hLines ?? []).map((l) => l.y), 0];
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  const yMax = Math.max(...ys) * 1.08 || 1;
  const px = (x: number) => PAD.left + ((tx(x) - xMin) / (xMax - xMin || 1)) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - (y / yMax) * (H - PAD.top - PAD.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(chart.title)}">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  for (const t of ticks(0, yMax)) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  const xTicks = chart.logX
    ? [...new Set(all.map(([x]) => x))].sort((a, b) => a - b).slice(0, 12)
    : ticks(xMin, xMax).slice(0, 12);
  for (const t of xTicks) {
    parts.push(`<text x="${px(t)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - PAD.bottom + 40}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  for (const line of chart.hLines ?? []) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(line.y)}" y2="${py(line.y)}" stroke="#999" stroke-dasharray="2 4"/>`,
      `<text x="${W - PAD.right - 4}" y="${py(line.y) - 4}" text-anchor="end" fill="#666">${esc(line.label)}</text>`,
    );
  }
  chart.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`,
      ...pts.map(
        ([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`,
      ),
    );
    const ly = PAD.top + 4 + i * 16;
    parts.push(
      `<line x1="${PAD.left + 10}" x2="${PAD.left + 30}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${PAD.left + 36}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
