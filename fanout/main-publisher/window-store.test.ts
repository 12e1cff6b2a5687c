import { describe, expect, it } from 'vitest';
import type { AggregateRow } from '../../common/records.ts';
import { WindowStore } from './window-store.ts';

const T0 = 1_760_000_000_000;

function row(partial: Partial<AggregateRow> & Pick<AggregateRow, 'emoji' | 'count'>): AggregateRow {
  return {
    match_id: 'A',
    window_start: T0,
    window_end: T0 + 2000,
    swarm: partial.count > 1000 ? Math.floor(partial.count / 1000) : 1,
    emitted_at: T0 + 2500,
    ...partial,
  };
}

describe('WindowStore.apply', () => {
  it('groups the rows of one (match, window) of a batch into one message with every emoji', () => {
    const store = new WindowStore();
    const result = store.apply([
      row({ emoji: '🔥', count: 3785 }),
      row({ emoji: '😂', count: 12 }),
      row({ emoji: '🔥', count: 5, window_start: T0 + 2000, window_end: T0 + 4000 }),
      row({ emoji: '👏', count: 7, match_id: 'B' }),
    ]);
    expect(result.changed).toHaveLength(3);
    const a0 = result.changed.find((w) => w.match_id === 'A' && w.window_start === T0);
    expect(a0).toEqual({
      match_id: 'A',
      window_start: T0,
      window_end: T0 + 2000,
      counts: { '🔥': 3785, '😂': 12 },
      swarm: { '🔥': 3, '😂': 1 },
      emitted_at: T0 + 2500,
      aggregated_at: null,
    });
  });

  it('carries the Kafka write time of the newest row that changed a window, not of repeats', () => {
    const store = new WindowStore();
    const first = store.apply([
      // Rows of one batch arrive in any order: the latest write counts, not the last row.
      { ...row({ emoji: '😂', count: 2 }), aggregated_at: T0 + 2950 },
      { ...row({ emoji: '🔥', count: 10 }), aggregated_at: T0 + 2900 },
    ]);
    expect(first.changed[0]?.aggregated_at).toBe(T0 + 2950);
    // The next micro-batch changes one emoji: its write is the window's newest update.
    const next = store.apply([
      { ...row({ emoji: '🔥', count: 12, emitted_at: T0 + 4500 }), aggregated_at: T0 + 4800 },
    ]);
    expect(next.changed[0]).toMatchObject({ emitted_at: T0 + 4500, aggregated_at: T0 + 4800 });
    // A repeated row (a re-run batch) changes nothing, so the trace keeps the update viewers were sent.
    const repeat = store.apply([
      { ...row({ emoji: '🔥', count: 12, emitted_at: T0 + 6500 }), aggregated_at: T0 + 6900 },
    ]);
    expect(repeat.changed).toEqual([]);
    expect(store.snapshot('A')[0]?.aggregated_at).toBe(T0 + 4800);
  });

  it('keeps the latest value per (match, window, emoji) and never adds running totals', () => {
    const store = new WindowStore();
    store.apply([row({ emoji: '🔥', count: 10, emitted_at: T0 + 2100 })]);
    const later = store.apply([row({ emoji: '🔥', count: 25, emitted_at: T0 + 4100 })]);
    expect(later.changed[0]?.counts).toEqual({ '🔥': 25 });
    // An older row replayed after a newer one changes nothing.
    const replay = store.apply([row({ emoji: '🔥', count: 10, emitted_at: T0 + 2100 })]);
    expect(replay.changed).toEqual([]);
    expect(replay.unchanged).toBe(1);
    expect(store.snapshot('A')[0]?.counts).toEqual({ '🔥': 25 });
  });

  it('does not double count a repeated row, in the same batch or a later one', () => {
    const store = new WindowStore();
    const twice = store.apply([row({ emoji: '🔥', count: 40 }), row({ emoji: '🔥', count: 40 })]);
    expect(twice.changed).toHaveLength(1);
    expect(twice.changed[0]?.counts['🔥']).toBe(40);
    expect(twice.unchanged).toBe(1);
    const again = store.apply([row({ emoji: '🔥', count: 40 })]);
    expect(again.changed).toEqual([]);
    // The same total re-emitted by a later micro-batch (a re-run after a restart) is not a change either.
    const rerun = store.apply([row({ emoji: '🔥', count: 40, emitted_at: T0 + 9000 })]);
    expect(rerun.changed).toEqual([]);
    expect(rerun.unchanged).toBe(1);
    expect(store.snapshot('A')).toHaveLength(1);
    expect(store.snapshot('A')[0]?.counts['🔥']).toBe(40);
  });

  it('orders rows of one micro-batch by count regardless of arrival order', () => {
    const store = new WindowStore();
    store.apply([row({ emoji: '🔥', count: 9 }), row({ emoji: '🔥', count: 4 })]);
    expect(store.snapshot('A')[0]?.counts['🔥']).toBe(9);
  });

  it('keeps only the most recent windows per match and drops rows older than all of them', () => {
    const store = new WindowStore({ windowsPerMatch: 3 });
    for (let i = 0; i < 5; i++) {
      store.apply([
        row({ emoji: '🔥', count: i + 1, window_start: T0 + i * 2000, window_end: T0 + i * 2000 + 2000 }),
      ]);
    }
    expect(store.snapshot('A').map((w) => w.window_start)).toEqual([T0 + 4000, T0 + 6000, T0 + 8000]);
    const late = store.apply([row({ emoji: '🔥', count: 99, window_start: T0 })]);
    expect(late.dropped).toBe(1);
    expect(late.changed).toEqual([]);
  });

  it('bounds matches (least recently updated forgotten) and emojis per window', () => {
    const store = new WindowStore({ maxMatches: 2, maxEmojisPerWindow: 2 });
    store.apply([row({ match_id: 'A', emoji: '🔥', count: 1 })]);
    store.apply([row({ match_id: 'B', emoji: '🔥', count: 1 })]);
    store.apply([row({ match_id: 'A', emoji: '😂', count: 1 })]);
    store.apply([row({ match_id: 'C', emoji: '🔥', count: 1 })]);
    expect(store.matchCount).toBe(2);
    expect(store.snapshot('B')).toEqual([]);
    expect(store.snapshot('A')).toHaveLength(1);
    const third = store.apply([row({ match_id: 'A', emoji: '👏', count: 1 })]);
    expect(third.dropped).toBe(1);
    expect(Object.keys(store.snapshot('A')[0]?.counts ?? {})).toEqual(['🔥', '😂']);
  });
});
