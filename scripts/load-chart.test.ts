import { describe, expect, it } from 'vitest';
import { loadChartSvg } from './load-chart.ts';

describe('loadChartSvg', () => {
  it('draws latency only from the first second a reaction was seen (no made-up 0 ms before it)', () => {
    const report = {
      reactions: { accepted: 12_345 },
      viewers: { connected: 20 },
      series: [
        { t: 1, p50: 0, p95: 0, p99: 0, seen: 0 },
        { t: 2, p50: 0, p95: 0, p99: 0, seen: 0 },
        { t: 3, p50: 900, p95: 1200, p99: 1500, seen: 400 },
        { t: 4, p50: 800, p95: 1100, p99: 1400, seen: 900 },
      ],
    };
    const svg = loadChartSvg(report);
    expect(svg).toContain('12,345 reactions, 20 viewers');
    const lines = [...svg.matchAll(/<polyline[^>]* points="([^"]+)"/g)].map((m) => m[1]?.split(' ') ?? []);
    expect(lines).toHaveLength(3);
    for (const points of lines) expect(points).toHaveLength(2);
    // A report written before `seen` existed: a p99 of 0 is the tracker's answer without observations.
    const old = loadChartSvg({ ...report, series: report.series.map(({ seen: _, ...l }) => l) });
    expect([...old.matchAll(/<polyline[^>]* points="([^"]+)"/g)][0]?.[1]?.split(' ')).toHaveLength(2);
  });
});
