/**
 * A reader of the Prometheus text exposition format (version 0.0.4), the subset prom-client writes: one sample
 * per line, `name{label="value",…} value`, `#` lines skipped. Enough for the dashboard to read the services' own
 * `/metrics`; bounded, so a huge or hostile answer cannot grow memory without limit.
 */

/** One sample. */
export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** Most samples read from one answer; the rest are ignored. */
export const MAX_SAMPLES = 20_000;

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string): Record<string, string> | undefined {
  const inner = text.slice(1, -1);
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < inner.length) {
    const m = LABEL.exec(inner);
    if (!m) return undefined;
    labels[m[1] as string] = unescapeLabel(m[2] as string);
    if (m[3] === '') break;
  }
  return labels;
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const n = Number(text);
  return Number.isNaN(n) && text !== 'NaN' ? undefined : n;
}

/** The samples of an exposition; malformed lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    if (samples.length >= MAX_SAMPLES) break;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const labels = m[2] === undefined ? {} : parseLabels(m[2]);
    const value = parseValue(m[3] as string);
    if (labels === undefined || value === undefined) continue;
    samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

/** Sum of the samples named `name` whose labels include `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Values of `name` grouped by one label (summed over the others). */
export function byLabel(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return out;
}

/** Cumulative bucket counts of histogram `name` (`<name>_bucket`), by upper bound, ascending. */
export function histogramBuckets(samples: readonly Sample[], name: string): [number, number][] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = parseValue(s.labels.le ?? '');
    if (le === undefined) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].sort((a, b) => a[0] - b[0]);
}

/**
 * The `q` quantile (0..1) of the observations between two scrapes of a histogram (cumulative buckets), by linear
 * interpolation inside the bucket, as Prometheus's histogram_quantile does; undefined without new observations.
 * An observation in the +Inf bucket reports the highest finite bound.
 */
export function quantileBetween(
  before: readonly [number, number][],
  after: readonly [number, number][],
  q: number,
): number | undefined {
  const prev = new Map(before);
  const deltas = after.map(([le, n]) => [le, Math.max(0, n - (prev.get(le) ?? 0))] as const);
  const total = deltas.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, count] of deltas) {
    if (count >= rank) {
      if (!Number.isFinite(le)) return lowerBound;
      const inBucket = count - lowerCount;
      return inBucket <= 0 ? le : lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = le;
    lowerCount = count;
  }
  return lowerBound;
}
