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

describe('LatencyTracker: hops', () => {
  const trace = (t0: number) => ({
    emitted_at: t0 + 400,
    aggregated_at: t0 + 900,
    routed_at: t0 + 950,
    sent_at: t0 + 980,
    relayed_at: t0 + 990,
  });

  it('splits each delivered reaction by the stamps of the message it was first seen in', () => {
    const t = new LatencyTracker();
    t.onKafka('m', 77, 1100); // the records landed before the client read the answer: either order works
    t.accepted('m', 0, 10, 1000, 77);
    t.accepted('m', 0, 10, 2000, 78);
    t.onKafka('m', 78, 2300);
    t.onKafka('m', 78, 2200); // an earlier record of the same batch: the latest counts
    // The first message counts reactions 1–10 (batch 77); the second, later update counts the rest (batch 78).
    t.observed('m', 0, 10, 2000, trace(1000));
    t.observed('m', 0, 20, 4000, trace(3000));
    const h = t.hops();
    expect(h.count).toBe(20);
    expect(h.untraced).toBe(0);
    expect(h.missing).toEqual({});
    // Batch 77: 100 ms to Kafka, 300 to the batch start, 500 of batch, 50, 30, 10, 10 to the viewer.
    // Batch 78: 300 ms to Kafka, 1100 to the batch start, then the same.
    expect(h.hops.map((x) => x.p50)).toEqual([100, 300, 500, 50, 30, 10, 10]);
    expect(h.hops.map((x) => x.p99)).toEqual([300, 1100, 500, 50, 30, 10, 10]);
    const all = h.splits[0];
    expect(all?.hops.reduce((a, b) => a + b, 0)).toBe(all?.e2e_mean);
    expect(all?.e2e_mean).toBe(t.summary().mean);
  });

  it('counts reactions seen without stamps, and a batch never seen on Kafka as missing that stamp', () => {
    const t = new LatencyTracker();
    t.accepted('m', 0, 5, 1000, 1);
    t.accepted('m', 0, 5, 1000); // no ingest timestamp: its Kafka time cannot be looked up
    t.observed('m', 0, 5, 2000); // a caller without stamps (the web viewer)
    t.observed('m', 0, 10, 3000, trace(1000));
    const h = t.hops();
    expect(h.untraced).toBe(5);
    expect(h.count).toBe(5);
    expect(h.missing).toEqual({ on_kafka: 5 });
    // Without the Kafka time, ingest's part falls into the trigger wait: 0 then 400.
    expect(h.hops[0]?.p50).toBe(0);
    expect(h.hops[1]?.p50).toBe(400);
  });
});
