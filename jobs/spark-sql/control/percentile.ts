import hdr from 'hdr-histogram-js';

/**
 * The `p`-th percentile (0–100) of millisecond values through an HDR histogram (3 significant digits), as the
 * viewer client's latency tracker computes its figures; undefined for no values.
 */
export function percentile(valuesMs: readonly number[], p: number): number | undefined {
  if (valuesMs.length === 0) return undefined;
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000,
    numberOfSignificantValueDigits: 3,
  });
  try {
    for (const v of valuesMs) h.recordValue(Math.max(0, Math.round(v)));
    return h.getValueAtPercentile(p);
  } finally {
    h.destroy();
  }
}
