import { describe, expect, it } from 'vitest';
import type { SwarmMessage } from './socket-events.ts';
import { swarmMessage, T0 } from './swarm-message.fixture.ts';
import { isNewer, LatestWindows, versionOf, WindowMap } from './window-state.ts';

const state = swarmMessage;

describe('isNewer', () => {
  it('takes the greater emitted_at first, whatever the totals', () => {
    expect(isNewer({ emitted_at: 2, total: 1 }, { emitted_at: 1, total: 100 })).toBe(true);
    expect(isNewer({ emitted_at: 1, total: 100 }, { emitted_at: 2, total: 1 })).toBe(false);
  });

  it('breaks a tie of emitted_at by the greater total, and a full tie is a repeat (not newer)', () => {
    expect(isNewer({ emitted_at: 5, total: 8 }, { emitted_at: 5, total: 7 })).toBe(true);
    expect(isNewer({ emitted_at: 5, total: 7 }, { emitted_at: 5, total: 8 })).toBe(false);
    expect(isNewer({ emitted_at: 5, total: 7 }, { emitted_at: 5, total: 7 })).toBe(false);
  });

  it('reads the version of a window from emitted_at and the sum of its counts, not the hop stamps', () => {
    expect(versionOf(state({ counts: { '🔥': 3, '😂': 4 } }))).toEqual({ emitted_at: T0 + 2500, total: 7 });
    const resent = state({ routed_at: T0 + 9000, sent_at: T0 + 9000 });
    expect(isNewer(versionOf(resent), versionOf(state()))).toBe(false);
  });
});

describe('WindowMap', () => {
  it('keeps the most recent windows per match, oldest first, and refuses one older than all of a full match', () => {
    const map = new WindowMap<string>({ windowsPerMatch: 2 });
    expect(map.set('A', 20, 'w20')).toBe(true);
    expect(map.set('A', 0, 'w0')).toBe(true);
    expect(map.set('A', 10, 'w10')).toBe(true); // evicts 0, the oldest
    expect(map.windows('A')).toEqual(['w10', 'w20']);
    expect(map.set('A', 5, 'w5')).toBe(false);
    expect(map.set('A', 10, 'w10b')).toBe(true); // an update of a kept window needs no room
    expect(map.windows('A')).toEqual(['w10b', 'w20']);
  });

  it('forgets the least recently used match first; snapshot reads do not count as use', () => {
    const map = new WindowMap<number>({ maxMatches: 2 });
    map.set('A', 0, 1);
    map.set('B', 0, 1);
    map.get('A', 0); // A is used again: B is now the least recently used
    map.windows('B'); // reading B for a snapshot does not save it
    map.set('C', 0, 1);
    expect(map.matchCount).toBe(2);
    expect(map.windows('B')).toEqual([]);
    expect(map.windows('A')).toEqual([1]);
    map.delete('A');
    expect(map.windows('A')).toEqual([]);
    expect(map.matchCount).toBe(1);
  });
});

describe('LatestWindows', () => {
  it('keeps a state only if it is newer than the one held for its window', () => {
    const latest = new LatestWindows<SwarmMessage>();
    expect(latest.offer(state())).toBe(true);
    expect(latest.offer(state({ sent_at: T0 + 9999 }))).toBe(false); // a repeat, re-stamped
    expect(latest.offer(state({ counts: { '🔥': 2 } }))).toBe(true); // same batch, more complete
    expect(latest.offer(state({ emitted_at: T0 + 4500, counts: { '🔥': 3 } }))).toBe(true);
    expect(latest.offer(state({ emitted_at: T0 + 2500, counts: { '🔥': 9 } }))).toBe(false); // older batch
    expect(latest.windows('A').map((w) => w.counts['🔥'])).toEqual([3]);
  });

  it('is bounded per match and in matches', () => {
    const latest = new LatestWindows<SwarmMessage>({ windowsPerMatch: 2, maxMatches: 1 });
    for (const i of [2, 0, 1]) latest.offer(state({ window_start: T0 + i * 2000 }));
    expect(latest.windows('A').map((m) => m.window_start)).toEqual([T0 + 2000, T0 + 4000]);
    expect(latest.offer(state({ window_start: T0 }))).toBe(false);
    latest.offer(state({ match_id: 'B' }));
    expect(latest.matchCount).toBe(1);
    expect(latest.windows('A')).toEqual([]);
  });
});
