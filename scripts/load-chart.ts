/**
 * The load simulator's chart (`npm run load` writes it beside its report; `npm run load -- --redraw <report.json>`
 * draws it again from a report): end-to-end latency percentiles over the run, cumulative since the start, from the
 * first second in which a reaction had been seen by a viewer (before that there is no latency to draw, not 0 ms).
 */
import { lineChartSvg } from './svg-chart.ts';

/** The parts of a load report (reports/load-<time>.json) the chart reads. */
export interface LoadReportForChart {
  reactions: { accepted: number };
  viewers: { connected: number };
  /** One entry per second; `seen` (reactions a viewer has seen so far) is absent in reports written before it. */
  series: readonly { t?: number; p50?: number; p95?: number; p99?: number; seen?: number }[];
}

/** The chart as a standalone SVG document. */
export function loadChartSvg(report: LoadReportForChart): string {
  // Older reports have no `seen`: a p99 of 0 was the tracker's answer without observations.
  const measured = report.series.filter((l) => (l.seen ?? ((l.p99 ?? 0) > 0 ? 1 : 0)) > 0);
  return lineChartSvg({
    title: `End-to-end latency: ${report.reactions.accepted.toLocaleString('en')} reactions, ${report.viewers.connected} viewers`,
    xLabel: 'seconds since the load started (latency: ingest accepted → first viewer that counts it)',
    yLabel: 'ms, percentiles since the start',
    series: (['p50', 'p95', 'p99'] as const).map((q) => ({
      name: q,
      points: measured.map((l) => [l.t ?? 0, l[q] ?? 0] as const),
    })),
  });
}
