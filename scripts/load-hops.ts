/**
 * The load simulator's hop figures (fanout/client/hop-trace.ts): the table it prints and puts in README (Markdown,
 * so it pastes as is), the stacked chart it writes beside its report, and the comparison of several runs
 * (`npm run load -- --compare a.json b.json …`), so a change (a Spark trigger, a batching delay) reads as one table
 * and one chart of before and after.
 */
import { HOPS, type HopSummary } from '../fanout/index.ts';
import { stackedBarChartSvg } from './svg-chart.ts';

/** The parts of a load report (reports/load-<label>-<time>.json) the hop table and chart read. */
export interface LoadReportForHops {
  /** `--label` of the run; reports written before it have none (their file name stands in). */
  label?: string;
  at?: string;
  config?: { rate?: number; viewers?: number; duration_s?: number; matches?: number };
  latency_ms?: { p50?: number; p99?: number };
  /** Absent in reports written before hops were measured. */
  hops_ms?: HopSummary & { untraced?: number };
}

/** A run's name in tables and charts: its label, else its start time. */
export function runName(report: LoadReportForHops, fallback = 'run'): string {
  return report.label ?? report.at ?? fallback;
}

/** Rows of text as a Markdown table whose columns are padded to one width (as the README's tables are). */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const ms = (n: number | undefined) => (n === undefined ? '–' : n.toLocaleString('en'));

/**
 * The hop table of one run: per hop p50, p99, mean and its share of the mean latency; then the end-to-end line of
 * the same samples. Per-hop percentiles do not add up (each hop's p99 comes from other samples); the means do.
 */
export function hopTable(report: LoadReportForHops): string {
  const hops = report.hops_ms;
  if (hops === undefined || hops.count === 0) return '(no hop figures: no reaction was seen with a trace)';
  const all = hops.splits.find((s) => s.samples === 'all');
  const e2eMean = all?.e2e_mean ?? 0;
  const rows = hops.hops.map((h) => [
    h.label,
    ms(h.p50),
    ms(h.p99),
    ms(h.mean),
    e2eMean > 0 ? `${Math.round((h.mean / e2eMean) * 100)} %` : '–',
  ]);
  rows.push(['end to end', ms(report.latency_ms?.p50), ms(report.latency_ms?.p99), ms(e2eMean), '100 %']);
  return markdownTable(['hop', 'p50 ms', 'p99 ms', 'mean ms', 'share of mean'], rows);
}

/**
 * The mean split of median (p40–p60) and tail (≥ p99) samples, one line each: where a typical and a slow reaction's
 * time went. Each adds up to those samples' mean latency.
 */
export function splitTable(report: LoadReportForHops): string {
  const splits = report.hops_ms?.splits ?? [];
  return markdownTable(
    ['samples', 'n', 'mean e2e ms', ...HOPS.map((h) => h.label)],
    splits.map((s) => [s.samples, ms(s.count), ms(s.e2e_mean), ...s.hops.map((v) => ms(v))]),
  );
}

/** Several runs side by side: per hop, each run's p50 / p99 (ms). */
export function compareTable(reports: readonly LoadReportForHops[]): string {
  const names = reports.map((r, i) => runName(r, `run ${i + 1}`));
  const cell = (r: LoadReportForHops, i: number) => {
    const h = r.hops_ms?.hops[i];
    return h === undefined ? '–' : `${ms(h.p50)} / ${ms(h.p99)}`;
  };
  const rows = HOPS.map((hop, i) => [hop.label, ...reports.map((r) => cell(r, i))]);
  rows.push(['end to end', ...reports.map((r) => `${ms(r.latency_ms?.p50)} / ${ms(r.latency_ms?.p99)}`)]);
  return markdownTable(['hop (p50 / p99 ms)', ...names], rows);
}

/**
 * The stacked chart: for each run, bars of the mean hop split of all samples, of the median ones and of the tail
 * (one run: three bars; several: three per run, named by run).
 */
export function hopsChartSvg(reports: readonly LoadReportForHops[]): string {
  const many = reports.length > 1;
  const bars = reports.flatMap((r, i) =>
    (r.hops_ms?.splits ?? []).map((s) => ({
      name: `${many ? `${runName(r, `run ${i + 1}`)}: ` : ''}${s.samples === 'all' ? 'all (mean)' : s.samples}`,
      values: s.hops,
    })),
  );
  const first = reports[0]?.config;
  const what =
    !many && first !== undefined
      ? ` (${first.rate}/s, ${first.viewers} viewers, ${first.matches} matches, ${first.duration_s} s)`
      : '';
  return stackedBarChartSvg({
    title: `Where the end-to-end latency goes${what}`,
    xLabel: 'ms, mean per hop of the samples in the bar (p40–p60: around the median; ≥ p99: the slowest 1 %)',
    segments: HOPS.map((h) => h.label),
    bars,
  });
}
