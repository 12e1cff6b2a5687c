/**
 * Token buckets per key in a bounded LRU (lru-cache), shared by ingest (a key per user) and the subscriber node (a
 * key per viewer connection): memory stays flat however many keys appear. A bucket idle long enough to have
 * refilled completely is equivalent to a fresh one, so that is its time-to-live; when the cache is full the least
 * recently seen key is forgotten and would start again with a full bucket.
 */
import { LRUCache } from 'lru-cache';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Sustained requests per second per key; 0 disables limiting. */
  ratePerSec: number;
  /** Bucket size: requests a key may make at once after being idle. */
  burst: number;
  /** Most keys tracked at once. */
  maxKeys: number;
  /** Monotonic clock in ms; injectable for tests. */
  now?: () => number;
}

/** Outcome of {@link RateLimiter.take}: allowed, or the seconds until one token is back. */
export type RateDecision = { ok: true } | { ok: false; retryAfterSec: number };

/** Token buckets per key; see the module header for the bound. */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket. */
  take(key: string): RateDecision;
  /** Keys currently tracked (for metrics and tests). */
  readonly size: number;
}

interface Bucket {
  tokens: number;
  last: number;
}

const ALLOWED: RateDecision = Object.freeze({ ok: true });

/** Creates a {@link RateLimiter}; `ratePerSec` 0 gives one that allows everything. */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const { ratePerSec, burst } = options;
  if (ratePerSec <= 0) return { take: () => ALLOWED, size: 0 };
  const now = options.now ?? (() => performance.now());
  const perMs = ratePerSec / 1000;
  const buckets = new LRUCache<string, Bucket>({
    max: options.maxKeys,
    ttl: Math.ceil((burst / ratePerSec) * 1000),
    // Refill time is what matters, not last access: checking a key must not keep a stale bucket alive.
    updateAgeOnGet: false,
    perf: { now },
  });
  return {
    take(key) {
      const t = now();
      const b = buckets.get(key);
      if (b === undefined) {
        buckets.set(key, { tokens: burst - 1, last: t });
        return ALLOWED;
      }
      const tokens = Math.min(burst, b.tokens + (t - b.last) * perMs);
      b.last = t;
      if (tokens >= 1) {
        b.tokens = tokens - 1;
        // Re-set so the TTL counts from the last refill point.
        buckets.set(key, b);
        return ALLOWED;
      }
      b.tokens = tokens;
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil((1 - tokens) / ratePerSec)) };
    },
    get size() {
      return buckets.size;
    },
  };
}
