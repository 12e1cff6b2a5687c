import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limiter.ts';

describe('rate limiter', () => {
  it('allows the burst, then the sustained rate, per user', () => {
    let t = 0;
    const limiter = createRateLimiter({ ratePerSec: 2, burst: 3, maxKeys: 100, now: () => t });
    const take = () => limiter.take('u').ok;
    expect([take(), take(), take(), take()]).toEqual([true, true, true, false]);
    expect(limiter.take('other').ok).toBe(true);
    t += 499;
    expect(take()).toBe(false);
    t += 1;
    expect(take()).toBe(true);
    expect(take()).toBe(false);
  });

  it('says when to retry', () => {
    let t = 0;
    const limiter = createRateLimiter({ ratePerSec: 0.25, burst: 1, maxKeys: 10, now: () => t });
    expect(limiter.take('u')).toEqual({ ok: true });
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterSec: 4 });
    t += 3000;
    expect(limiter.take('u')).toEqual({ ok: false, retryAfterSec: 1 });
  });

  it('keeps memory bounded: at most maxKeys buckets', () => {
    const limiter = createRateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 1000, now: () => 0 });
    for (let i = 0; i < 10_000; i++) limiter.take(`user-${i}`);
    expect(limiter.size).toBe(1000);
  });

  it('refills completely after an idle period', () => {
    let t = 0;
    const limiter = createRateLimiter({ ratePerSec: 10, burst: 5, maxKeys: 10, now: () => t });
    for (let i = 0; i < 5; i++) limiter.take('u');
    expect(limiter.take('u').ok).toBe(false);
    t += 600;
    for (let i = 0; i < 5; i++) expect(limiter.take('u').ok).toBe(true);
    expect(limiter.take('u').ok).toBe(false);
  });

  it('rate 0 disables limiting', () => {
    const limiter = createRateLimiter({ ratePerSec: 0, burst: 1, maxKeys: 1 });
    for (let i = 0; i < 100; i++) expect(limiter.take('u').ok).toBe(true);
  });
});
