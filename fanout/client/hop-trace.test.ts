import { describe, expect, it } from 'vitest';
import { HOPS, HopStats, hopDurations, type SampleStamps } from './hop-trace.ts';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function sample(partial: Partial<SampleStamps> = {}): SampleStamps {
  return {
    acceptedAt: 1000,
    onKafkaAt: 1200,
    trace: { emitted_at: 2000, aggregated_at: 2600, routed_at: 2650, sent_at: 2700, relayed_at: 2720 },
    seenAt: 2750,
    ...partial,
  };
}

describe('hopDurations', () => {
  it('gives each hop the time between its stamps, in pipeline order', () => {
    expect(hopDurations(sample())).toEqual({ durations: [200, 800, 600, 50, 50, 20, 30], missing: [] });
    expect(HOPS).toHaveLength(7);
  });

  it('clamps a stamp earlier than its predecessor to it, so hops are never negative and sum to the latency', () => {
    // A durable answer read after the record landed; a batch planned just before a record it read; a viewer
    // clock stamp before the node's (cannot happen on one machine, but must not break the sum).
    const s = sample({
      onKafkaAt: 900,
      trace: { emitted_at: 1990, aggregated_at: 2600, routed_at: 2650, sent_at: 2700, relayed_at: 2760 },
    });
    const { durations } = hopDurations(s);
    expect(durations).toEqual([0, 990, 610, 50, 50, 50, 0]);
    expect(sum(durations)).toBe(s.seenAt - s.acceptedAt);
    expect(durations.every((d) => d >= 0)).toBe(true);
  });

  it('gives a missing stamp its time to the next hop and names it', () => {
    const { durations, missing } = hopDurations(
      sample({ onKafkaAt: undefined, trace: { emitted_at: 2000, routed_at: 2650, sent_at: 2700 } }),
    );
    expect(missing).toEqual(['on_kafka', 'aggregated_at', 'relayed_at']);
    expect(durations).toEqual([0, 1000, 0, 650, 50, 0, 50]);
    expect(sum(durations)).toBe(1750);
  });

  it('is all zeros when the viewer saw it before it was accepted, and ignores non-numbers', () => {
    const { durations } = hopDurations(
      sample({ seenAt: 500, trace: { emitted_at: Number.NaN, routed_at: 'x' as unknown as number } }),
    );
    expect(durations).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('HopStats', () => {
  it('reports per-hop p50/p99, and mean splits of all, median and tail samples that add up', () => {
    const stats = new HopStats();
    // 98 fast samples (trigger wait 500 ms) and 2 slow ones (trigger wait 3000 ms).
    for (let i = 0; i < 98; i++) stats.record(sample({ trace: { ...sample().trace, emitted_at: 1700 } }));
    stats.record(
      sample({
        trace: { emitted_at: 4200, aggregated_at: 4800, routed_at: 4850, sent_at: 4900, relayed_at: 4920 },
        seenAt: 4950,
      }),
      2,
    );
    const s = stats.summary();
    expect(s.count).toBe(100);
    const wait = s.hops.find((h) => h.id === 'trigger_wait');
    // hdr-histogram keeps 3 significant digits: 3000 reads back as up to 3001.
    expect(wait?.p50).toBe(500);
    expect(wait?.p99).toBeGreaterThanOrEqual(3000);
    expect(wait?.p99).toBeLessThanOrEqual(3003);
    const [all, median, tail] = s.splits;
    expect(all).toMatchObject({ samples: 'all', count: 100 });
    expect(median).toMatchObject({ count: 98, e2e_mean: 1750 });
    expect(median?.hops).toEqual([200, 500, 900, 50, 50, 20, 30]);
    expect(tail).toMatchObject({ count: 2, e2e_mean: 3950 });
    expect(tail?.hops[1]).toBe(3000);
    for (const split of s.splits) expect(Math.abs(sum(split.hops) - split.e2e_mean)).toBeLessThanOrEqual(4);
  });

  it('summarises nothing as zeros', () => {
    const s = new HopStats().summary();
    expect(s.count).toBe(0);
    expect(s.hops.every((h) => h.p50 === 0 && h.p99 === 0)).toBe(true);
    expect(s.splits.every((x) => x.count === 0)).toBe(true);
  });
});
