import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MatchSubscriptions } from './match-subscriptions.ts';

describe('MatchSubscriptions', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function subscriptions(watched: Set<string>) {
    const events: string[] = [];
    const counts: number[] = [];
    const subs = new MatchSubscriptions({
      graceMs: 5_000,
      hasViewers: (id) => watched.has(id),
      setUp: async (id) => {
        events.push(`up ${id}`);
      },
      tearDown: (id) => events.push(`down ${id}`),
      onCount: (n) => counts.push(n),
    });
    return { subs, events, counts };
  }

  it('sets a match up once however many viewers acquire it', async () => {
    const { subs, events, counts } = subscriptions(new Set());
    const first = subs.acquire('A');
    expect(subs.acquire('A')).toBe(first);
    await first;
    expect(events).toEqual(['up A']);
    expect(counts).toEqual([1]);
    expect(subs.ids()).toEqual(['A']);
  });

  it('tears a match down only after the grace period without viewers, and a re-acquire cancels it', async () => {
    const watched = new Set<string>();
    const { subs, events } = subscriptions(watched);
    await subs.acquire('A');
    subs.releaseIfUnwatched('A');
    vi.advanceTimersByTime(4_000);
    await subs.acquire('A'); // a quick reconnect
    vi.advanceTimersByTime(10_000);
    expect(events).toEqual(['up A']);

    subs.releaseIfUnwatched('A');
    watched.add('A'); // someone joined during the grace period without acquiring (already served)
    vi.advanceTimersByTime(5_000);
    expect(subs.has('A')).toBe(true);
    watched.delete('A');
    subs.releaseIfUnwatched('A');
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['up A', 'down A']);
    expect(subs.size).toBe(0);
  });

  it('releases nothing once closed', async () => {
    const { subs, events } = subscriptions(new Set());
    await subs.acquire('A');
    subs.releaseIfUnwatched('A');
    subs.close();
    subs.releaseIfUnwatched('A');
    vi.advanceTimersByTime(10_000);
    expect(events).toEqual(['up A']);
  });
});
