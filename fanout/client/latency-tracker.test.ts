import { describe, expect, it } from 'vitest';
import { LatencyTracker } from './latency-tracker.ts';

describe('LatencyTracker', () => {
  it('credits each reaction to the first sighting of a total that includes it', () => {
    const t = new LatencyTracker();
    t.accepted('m', 0, 10, 1000); // reactions 1–10
    t.accepted('m', 0, 10, 1500); // reactions 11–20
    t.observed('m', 0, 15, 3000); // 1–10 after 2000 ms, 11–15 after 1500 ms
    t.observed('m', 0, 15, 9000); // nothing new
    t.observed('m', 0, 20, 4000); // 16–20 after 2500 ms
    const s = t.summary();
    expect(s.count).toBe(20);
    expect(s.p50).toBe(2000);
    expect(s.max).toBeGreaterThanOrEqual(2500);
    expect(s.max).toBeLessThan(2510);
    expect(t.pending).toBe(0);
  });

  it('keeps matches and windows apart, and counts what was never seen', () => {
    const t = new LatencyTracker();
    t.accepted('a', 0, 5, 100);
    t.accepted('b', 0, 5, 100);
    t.accepted('a', 2000, 5, 2100);
    t.observed('a', 0, 5, 600);
    expect(t.summary().count).toBe(5);
    expect(t.pending).toBe(10);
    expect(t.prune(2000)).toBe(5); // b|0 untouched since 100
    expect(t.pending).toBe(5);
  });

  it('ignores totals of windows it did not see accepted and counts the surplus of known ones', () => {
    const t = new LatencyTracker();
    t.observed('x', 0, 7, 10);
    t.accepted('m', 0, 3, 0);
    t.observed('m', 0, 5, 100);
    expect(t.summary().count).toBe(3);
    expect(t.unexplained).toBe(2);
  });
});
