import { describe, expect, it } from 'vitest';
import { swarmMessage, T0 } from '../../common/swarm-message.fixture.ts';
import { MessageCache } from './message-cache.ts';

const message = swarmMessage;

describe('MessageCache', () => {
  it('offers only newer states of a window, so repeats are not relayed twice', () => {
    const cache = new MessageCache();
    expect(cache.offer(message())).toBe(true);
    expect(cache.offer(message())).toBe(false);
    expect(cache.offer(message({ emitted_at: T0 + 4500, counts: { '🔥': 3 } }))).toBe(true);
    expect(cache.snapshot('A')).toEqual({
      match_id: 'A',
      windows: [message({ emitted_at: T0 + 4500, counts: { '🔥': 3 } })],
    });
  });

  it('fills from a fetched snapshot, skipping malformed entries and other matches', () => {
    const cache = new MessageCache({ windowsPerMatch: 2 });
    const kept = cache.fill('A', [
      message({ window_start: T0 + 4000 }),
      { match_id: 'A', window_start: 'soon' },
      message({ match_id: 'B' }),
      null,
      message({ window_start: T0 + 2000 }),
    ]);
    expect(kept).toBe(2);
    expect(cache.snapshot('A').windows.map((m) => m.window_start)).toEqual([T0 + 2000, T0 + 4000]);
    expect(cache.snapshot('B').windows).toEqual([]);
    // A live message already held from the snapshot is not relayed again.
    expect(cache.offer(message({ window_start: T0 + 4000 }))).toBe(false);
    cache.delete('A');
    expect(cache.snapshot('A').windows).toEqual([]);
  });
});
