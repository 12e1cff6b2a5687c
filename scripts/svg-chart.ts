/**
 * The benchmarks' pictures: a small SVG chart written next to each JSON report (no dependency, no browser). A line
 * chart (axes with round ticks, one polyline per series, optional horizontal reference lines such as a target or a
 * floor, a legend) or a grid of bar panels, each on its own scale, for figures of different magnitude measured
 * side by side. Text is escaped; every input list is bounded by the caller's report.
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
const PAD = { left: 64, right: 24, top: 60, bottom: 64 };
const COLOURS = ['#e4572e', '#2e86ab', '#76b041', '#a23b72', '#f18f01', '#17bebb'];
/** A series of more points than this is drawn as a line without dots. */
const MAX_DOTS = 24;
/** About this many y ticks: enough gridlines to read a value off. */
const Y_TICKS = 8;
/** A white outline behind text drawn over lines, so both stay readable where they cross. */
const HALO = ' stroke="#fff" stroke-width="3" paint-order="stroke"';

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
  Math.abs(n) >= 1e6
    ? `${Number((n / 1e6).toPrecision(3))}M`
    : Math.abs(n) >= 1000
      ? `${Number((n / 1000).toPrecision(3))}k`
      : String(Number(n.toPrecision(3)));

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
  for (const t of ticks(0, yMax, Y_TICKS)) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${PAD.left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  // A few measured levels (viewers, rates) are ticked where they were measured; a time series gets round ticks.
  const levels = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  const xTicks = chart.logX || levels.length <= 8 ? levels.slice(0, 12) : ticks(xMin, xMax).slice(0, 12);
  for (const t of xTicks) {
    parts.push(`<text x="${px(t)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${H - PAD.bottom}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${H - PAD.bottom}" stroke="#333"/>`,
    `<text x="${(PAD.left + W - PAD.right) / 2}" y="${H - PAD.bottom + 40}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
    `<text transform="translate(16 ${(PAD.top + H - PAD.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length === 0) return;
    const d = pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${d}"/>`,
      // Dots mark measured levels; on a long time series they would only blur the line.
      ...(pts.length > MAX_DOTS ? [] : pts).map(
        ([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${colour}"/>`,
      ),
    );
  });
  // Reference lines over the series, their labels on a halo so a series crossing them does not hide them.
  for (const line of chart.hLines ?? []) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${py(line.y)}" y2="${py(line.y)}" stroke="#999" stroke-dasharray="2 4"/>`,
      `<text x="${W - PAD.right - 4}" y="${py(line.y) - 4}" text-anchor="end" fill="#666"${HALO}>${esc(line.label)}</text>`,
    );
  }
  // The legend is a row between the title and the plot, so it never hides a point.
  let lx = PAD.left;
  chart.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    parts.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="40" y2="40" stroke="${colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${lx + 26}" y="44">${esc(s.name)}</text>`,
    );
    lx += 40 + s.name.length * 7;
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One panel of a {@link BarChart}: groups of bars on one linear scale from zero. */
export interface BarPanel {
  title: string;
  yLabel: string;
  /** Each group is a cluster of bars, one per series of the chart that has a value in it. */
  groups: readonly { name: string; values: Readonly<Record<string, number>> }[];
  /** Horizontal reference lines, e.g. a target. */
  hLines?: readonly { y: number; label: string }[];
}

/** What {@link barChartSvg} draws: panels in a grid, the series coloured alike in every panel. */
export interface BarChart {
  title: string;
  /** Series names in legend order; a bar's colour is its series'. */
  series: readonly string[];
  panels: readonly BarPanel[];
  /** @default 2 */
  columns?: number;
}

const PANEL_W = 360;
const PANEL_H = 250;
const PANEL_PAD = { left: 56, right: 12, top: 30, bottom: 34 };
const HEADER_H = 56;

/** The bar panels as a standalone SVG document; every bar is labelled with its value. */
export function barChartSvg(chart: BarChart): string {
  const columns = Math.max(1, Math.min(chart.columns ?? 2, chart.panels.length));
  const rows = Math.ceil(chart.panels.length / columns);
  const width = columns * PANEL_W;
  const height = HEADER_H + rows * PANEL_H;
  const colour = (name: string) => COLOURS[Math.max(0, chart.series.indexOf(name)) % COLOURS.length];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(chart.title)}">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  let lx = PANEL_PAD.left;
  for (const name of chart.series) {
    parts.push(
      `<rect x="${lx}" y="34" width="12" height="12" fill="${colour(name)}"/>`,
      `<text x="${lx + 16}" y="44">${esc(name)}</text>`,
    );
    lx += 28 + name.length * 7;
  }
  chart.panels.forEach((panel, i) => {
    const ox = (i % columns) * PANEL_W;
    const oy = HEADER_H + Math.floor(i / columns) * PANEL_H;
    const left = ox + PANEL_PAD.left;
    const right = ox + PANEL_W - PANEL_PAD.right;
    const top = oy + PANEL_PAD.top;
    const bottom = oy + PANEL_H - PANEL_PAD.bottom;
    const values = [
      ...panel.groups.flatMap((g) => Object.values(g.values)),
      ...(panel.hLines ?? []).map((l) => l.y),
    ].filter((v) => Number.isFinite(v));
    const yMax = Math.max(0, ...values) * 1.15 || 1;
    const py = (y: number) => bottom - (y / yMax) * (bottom - top);
    parts.push(
      `<text x="${(left + right) / 2}" y="${oy + 18}" text-anchor="middle" font-weight="bold">${esc(panel.title)}</text>`,
    );
    for (const t of ticks(0, yMax, 6)) {
      parts.push(
        `<line x1="${left}" x2="${right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
        `<text x="${left - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
      );
    }
    parts.push(
      `<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
      `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/>`,
      `<text transform="translate(${ox + 14} ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`,
    );
    const slot = (right - left) / Math.max(1, panel.groups.length);
    panel.groups.forEach((group, g) => {
      const bars = chart.series.filter((name) => Number.isFinite(group.values[name]));
      const barW = Math.min(48, (slot * 0.8) / Math.max(1, bars.length));
      const x0 = left + g * slot + (slot - barW * bars.length) / 2;
      bars.forEach((name, b) => {
        const v = group.values[name] as number;
        const x = x0 + b * barW;
        parts.push(
          `<rect class="bar" x="${x.toFixed(1)}" y="${py(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(bottom - py(v)).toFixed(1)}" fill="${colour(name)}"><title>${esc(`${group.name}, ${name}: ${v}`)}</title></rect>`,
          `<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(py(v) - 4).toFixed(1)}" text-anchor="middle" font-size="11">${fmt(v)}</text>`,
        );
      });
      parts.push(
        `<text x="${(left + g * slot + slot / 2).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${esc(group.name)}</text>`,
      );
    });
    for (const line of panel.hLines ?? []) {
      parts.push(
        `<line x1="${left}" x2="${right}" y1="${py(line.y)}" y2="${py(line.y)}" stroke="#999" stroke-dasharray="2 4"/>`,
        `<text x="${right - 4}" y="${py(line.y) - 4}" text-anchor="end" fill="#666"${HALO}>${esc(line.label)}</text>`,
      );
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** What {@link stackedBarChartSvg} draws: one horizontal bar per row, split into segments in legend order. */
export interface StackedBarChart {
  title: string;
  xLabel: string;
  /** Segment names in legend order; a segment's colour is its position's. */
  segments: readonly string[];
  /** Each bar's segment values (same order as `segments`), labelled `name` on its left. */
  bars: readonly { name: string; values: readonly number[] }[];
}

const STACK_W = 860;
const STACK_ROW = 44;
/** Colours of the stacked segments: more of them than lines in a line chart, so a longer palette. */
const SEGMENT_COLOURS = [...COLOURS, '#6c757d', '#ffd166', '#8338ec'];

/**
 * The bars as a standalone SVG document. Each segment is labelled with its value where it is wide enough, and
 * every bar with its total at its end; all bars share one scale from zero, so bars of different runs compare.
 */
export function stackedBarChartSvg(chart: StackedBarChart): string {
  const legendRows = Math.ceil(chart.segments.length / 3);
  const top = 44 + legendRows * 18 + 10;
  const height = top + chart.bars.length * STACK_ROW + 56;
  // Room on the left for the longest bar name (about 7 px a character at 12 px), within reason.
  const left = Math.min(320, Math.max(120, 16 + 7 * Math.max(0, ...chart.bars.map((b) => b.name.length))));
  const right = STACK_W - 70;
  const clean = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  const totals = chart.bars.map((b) => b.values.reduce((s, v) => s + clean(v), 0));
  const xMax = Math.max(0, ...totals) * 1.02 || 1;
  const px = (x: number) => left + (x / xMax) * (right - left);
  const colour = (i: number) => SEGMENT_COLOURS[i % SEGMENT_COLOURS.length];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${STACK_W} ${height}" width="${STACK_W}" height="${height}" font-family="sans-serif" font-size="12" role="img" aria-label="${esc(chart.title)}">`,
    `<title>${esc(chart.title)}</title>`,
    `<rect width="${STACK_W}" height="${height}" fill="#fff"/>`,
    `<text x="${STACK_W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ];
  chart.segments.forEach((name, i) => {
    const x = Math.round(24 + (i % 3) * ((STACK_W - 48) / 3));
    const y = 40 + Math.floor(i / 3) * 18;
    parts.push(
      `<rect x="${x}" y="${y}" width="12" height="12" fill="${colour(i)}"/>`,
      `<text x="${x + 16}" y="${y + 10}">${esc(name)}</text>`,
    );
  });
  const bottom = top + chart.bars.length * STACK_ROW;
  for (const t of ticks(0, xMax, 8)) {
    parts.push(
      `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${px(t).toFixed(1)}" y="${bottom + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/>`,
    `<text x="${(left + right) / 2}" y="${bottom + 40}" text-anchor="middle">${esc(chart.xLabel)}</text>`,
  );
  chart.bars.forEach((bar, row) => {
    const y = top + row * STACK_ROW + 8;
    const h = STACK_ROW - 16;
    parts.push(`<text x="${left - 8}" y="${y + h / 2 + 4}" text-anchor="end">${esc(bar.name)}</text>`);
    let x = 0;
    bar.values.forEach((raw, i) => {
      const v = clean(raw);
      if (v === 0) return;
      const x0 = px(x);
      const w = px(x + v) - x0;
      parts.push(
        `<rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${h}" fill="${colour(i)}"><title>${esc(`${bar.name}, ${chart.segments[i] ?? ''}: ${v}`)}</title></rect>`,
      );
      // A value is printed inside its segment only where it fits.
      if (w > 8 * fmt(v).length + 6)
        parts.push(
          `<text x="${(x0 + w / 2).toFixed(1)}" y="${y + h / 2 + 4}" text-anchor="middle" fill="#fff">${fmt(v)}</text>`,
        );
      x += v;
    });
    parts.push(`<text x="${(px(x) + 6).toFixed(1)}" y="${y + h / 2 + 4}">${fmt(totals[row] ?? 0)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
