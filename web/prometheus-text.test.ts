import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  byLabel,
  histogramBuckets,
  MAX_SAMPLES,
  parsePrometheusText,
  quantileBetween,
  sumOf,
} from './prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('reads what prom-client writes, labels with escapes included', async () => {
    const registry = new Registry();
    const c = new Counter({ name: 'x_total', help: 'h', labelNames: ['reason'], registers: [registry] });
    c.inc({ reason: 'rate-limited' }, 3);
    c.inc({ reason: 'quote"and\\slash' }, 2);
    const samples = parsePrometheusText(await registry.metrics());
    expect(sumOf(samples, 'x_total')).toBe(5);
    expect(byLabel(samples, 'x_total', 'reason')).toEqual(
      new Map([
        ['rate-limited', 3],
        ['quote"and\\slash', 2],
      ]),
    );
  });

  it('skips malformed lines and bounds what it keeps', () => {
    const text = [
      'ok 1',
      'bad{x="1" 2',
      '{} 3',
      'nan_value abc',
      'inf +Inf',
      ...Array(MAX_SAMPLES + 5).fill('m 1'),
    ];
    const samples = parsePrometheusText(text.join('\n'));
    expect(samples[0]).toEqual({ name: 'ok', labels: {}, value: 1 });
    expect(samples[1]).toEqual({ name: 'inf', labels: {}, value: Number.POSITIVE_INFINITY });
    expect(samples).toHaveLength(MAX_SAMPLES);
  });
});

describe('quantileBetween', () => {
  it('gives the quantiles of the observations between two scrapes, as histogram_quantile would', async () => {
    const registry = new Registry();
    const h = new Histogram({ name: 'lat', help: 'h', buckets: [0.01, 0.1, 1], registers: [registry] });
    for (let i = 0; i < 100; i++) h.observe(5); // before: all in +Inf, must not count
    const before = histogramBuckets(parsePrometheusText(await registry.metrics()), 'lat');
    for (let i = 0; i < 90; i++) h.observe(0.05);
    for (let i = 0; i < 10; i++) h.observe(0.5);
    const after = histogramBuckets(parsePrometheusText(await registry.metrics()), 'lat');
    expect(quantileBetween(before, after, 0.5)).toBeCloseTo(0.01 + (0.09 * 50) / 90, 6);
    expect(quantileBetween(before, after, 0.99)).toBeCloseTo(0.1 + 0.9 * 0.9, 6);
    expect(quantileBetween(after, after, 0.5)).toBeUndefined();
  });
});
