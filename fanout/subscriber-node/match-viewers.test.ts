import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { isId } from '../../common/ids.ts';
import {
  createMatchViewersGauge,
  MAX_MATCH_VIEWER_LABELS,
  matchViewerSeries,
  OTHER_MATCHES,
} from './match-viewers.ts';

describe('matchViewerSeries', () => {
  it('names the matches with the most viewers, sums the rest under one series, skips unwatched ones', () => {
    const counts: [string, number][] = [
      ['a', 3],
      ['b', 0],
      ['c', 7],
      ['d', 1],
      ['e', 3],
    ];
    expect(matchViewerSeries(counts, 2)).toEqual([
      ['c', 7],
      ['a', 3],
      [OTHER_MATCHES, 4],
    ]);
    expect(matchViewerSeries(counts, 10)).toEqual([
      ['c', 7],
      ['a', 3],
      ['e', 3],
      ['d', 1],
    ]);
    expect(matchViewerSeries([['x', 0]])).toEqual([]);
  });

  it('the overflow label is outside the id grammar, so no match can take it', () => {
    expect(isId(OTHER_MATCHES)).toBe(false);
  });
});

describe('fanout_match_viewers', () => {
  it('a flood of match ids adds at most one series beyond the cap, and keeps every viewer counted', async () => {
    const registry = new Registry();
    let counts: [string, number][] = Array.from({ length: 10_000 }, (_, i) => [`m-${i}`, 1 + (i % 7)]);
    createMatchViewersGauge(registry, () => counts);
    const read = async () =>
      (await registry.getSingleMetric('fanout_match_viewers')?.get())?.values.map(
        (v) => [v.labels.match_id, v.value] as const,
      ) ?? [];
    const series = await read();
    expect(series).toHaveLength(MAX_MATCH_VIEWER_LABELS + 1);
    expect(series.filter(([id]) => id === OTHER_MATCHES)).toHaveLength(1);
    expect(series.reduce((sum, [, n]) => sum + n, 0)).toBe(counts.reduce((sum, [, n]) => sum + n, 0));
    // The named ones are the busiest: 7 viewers each.
    expect(series.filter(([id]) => id !== OTHER_MATCHES).every(([, n]) => n === 7)).toBe(true);
    expect((await registry.metrics()).match(/^fanout_match_viewers\{/gm)).toHaveLength(
      MAX_MATCH_VIEWER_LABELS + 1,
    );

    // The flood leaves: its labels go at the next scrape.
    counts = [
      ['m-1', 2],
      ['m-2', 0],
    ];
    expect(await read()).toEqual([['m-1', 2]]);
  });
});
