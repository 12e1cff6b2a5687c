/**
 * The latest state of a (match, window): ONE rule for which of two states is the later, and ONE bounded map that
 * holds them. The main publisher (folding aggregate rows), the subscriber node (its snapshot cache, which also
 * suppresses repeats) and the viewer client all keep window states through this module, so a state one tier
 * takes for newer is the one every tier takes for newer.
 *
 * The rule ({@link isNewer}), and why:
 * 1. The greater `emitted_at` wins. The job emits running totals per (match, window, emoji) in update mode,
 *    stamped with its micro-batch time; a later micro-batch's totals supersede an earlier one's.
 * 2. At equal `emitted_at`, the greater total count wins. Both states come from the same micro-batch: either the
 *    main publisher folded more of that batch's emoji rows into one of them, or a row was re-emitted after a
 *    restart. Counts of a window never fall, so the greater total is the more complete state.
 * 3. Equal `emitted_at` and equal total: not newer. It is a repeat (a retried send, a replayed offset, a snapshot
 *    overlapping the live stream), so it is neither stored again nor relayed again.
 *
 * `routed_at` and `sent_at` play no part: each hop stamps its own, and a snapshot re-stamps old states.
 */
import { LRUCache } from 'lru-cache';

/** What {@link isNewer} compares: the job's micro-batch time and the window's total count. */
export interface WindowVersion {
  readonly emitted_at: number;
  readonly total: number;
}

/** The {@link WindowVersion} of a window state (its total is the sum of its per-emoji counts). */
export function versionOf(window: {
  readonly emitted_at: number;
  readonly counts: Readonly<Record<string, number>>;
}): WindowVersion {
  let total = 0;
  for (const count of Object.values(window.counts)) total += count;
  return { emitted_at: window.emitted_at, total };
}

/** Whether `candidate` supersedes `held`, two states of one (match, window); see the module header for why. */
export function isNewer(candidate: WindowVersion, held: WindowVersion): boolean {
  if (candidate.emitted_at !== held.emitted_at) return candidate.emitted_at > held.emitted_at;
  return candidate.total > held.total;
}

/** Bounds of a {@link WindowMap}. */
export interface WindowMapOptions {
  /** Windows kept per match: the most recent by `window_start`. @default 30 */
  windowsPerMatch?: number;
  /**
   * Matches kept; the one least recently written (or looked up for a write) is forgotten first. lru-cache
   * allocates its index for this many up front (about 22 bytes each), so size it to what the holder can need.
   * @default 10000
   */
  maxMatches?: number;
}

/**
 * Values per (match, window start), bounded twice: per match the most recent `windowsPerMatch` windows by start
 * (a window older than every kept one of a full match is refused, so a late straggler cannot push out a live
 * window), and at most `maxMatches` matches, least recently used first out. `get` and `set` count as use;
 * reading a match's windows for a snapshot does not, so serving snapshots never keeps a dead match alive.
 */
export class WindowMap<T> {
  readonly #windowsPerMatch: number;
  readonly #matches: LRUCache<string, Map<number, T>>;

  constructor(options: WindowMapOptions = {}) {
    this.#windowsPerMatch = options.windowsPerMatch ?? 30;
    this.#matches = new LRUCache({ max: options.maxMatches ?? 10_000 });
  }

  /** Matches held. */
  get matchCount(): number {
    return this.#matches.size;
  }

  /** The value held for a window, if any. */
  get(matchId: string, windowStart: number): T | undefined {
    return this.#matches.get(matchId)?.get(windowStart);
  }

  /** Stores a value; false (nothing stored) when the window is older than every kept window of a full match. */
  set(matchId: string, windowStart: number, value: T): boolean {
    let windows = this.#matches.get(matchId);
    if (windows === undefined) {
      windows = new Map();
      this.#matches.set(matchId, windows);
    }
    if (!windows.has(windowStart) && windows.size >= this.#windowsPerMatch) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const start of windows.keys()) if (start < oldest) oldest = start;
      if (windowStart < oldest) return false;
      windows.delete(oldest);
    }
    windows.set(windowStart, value);
    return true;
  }

  /** The values held for a match, oldest window first. */
  windows(matchId: string): T[] {
    const windows = this.#matches.peek(matchId);
    if (windows === undefined) return [];
    return [...windows].sort(([a], [b]) => a - b).map(([, value]) => value);
  }

  /** Forgets a match. */
  delete(matchId: string): void {
    this.#matches.delete(matchId);
  }
}

/** A whole window state as the tiers pass it on (a {@link SwarmWindow}-like object). */
export interface WindowStateLike {
  readonly match_id: string;
  readonly window_start: number;
  readonly emitted_at: number;
  readonly counts: Readonly<Record<string, number>>;
}

/** The latest state of each window in a {@link WindowMap}, by {@link isNewer}. */
export class LatestWindows<T extends WindowStateLike> {
  readonly #map: WindowMap<{ value: T; version: WindowVersion }>;

  constructor(options: WindowMapOptions = {}) {
    this.#map = new WindowMap(options);
  }

  /** Matches held. */
  get matchCount(): number {
    return this.#map.matchCount;
  }

  /** Keeps `state` if it is newer than what is held for its window; true if it was kept (so worth passing on). */
  offer(state: T): boolean {
    const version = versionOf(state);
    const held = this.#map.get(state.match_id, state.window_start);
    if (held !== undefined && !isNewer(version, held.version)) return false;
    return this.#map.set(state.match_id, state.window_start, { value: state, version });
  }

  /** The latest state of each held window of a match, oldest first. */
  windows(matchId: string): T[] {
    return this.#map.windows(matchId).map((entry) => entry.value);
  }

  /** Forgets a match. */
  delete(matchId: string): void {
    this.#map.delete(matchId);
  }
}
