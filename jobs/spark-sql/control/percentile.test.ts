import { describe, expect, it } from 'vitest';
import { percentile } from './percentile.ts';

describe('percentile', () => {
  it('reads percentiles of batch durations within the histogram precision', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000 ms
    expect(percentile(values, 50)).toBe(500);
    expect(percentile(values, 99)).toBe(990);
    expect(percentile(values, 100)).toBe(1000);
    expect(percentile([878, 1206, 900], 50)).toBe(900);
  });

  it('is undefined for no values', () => {
    expect(percentile([], 50)).toBeUndefined();
  });
});
