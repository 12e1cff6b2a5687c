/**
 * Recent window state per match, folded from idempotent aggregate rows.
 *
 * Aggregate rows carry running totals keyed by (match, window start, emoji), so folding keeps the latest value
 * per key and never adds: a replayed or repeated row changes nothing. "Latest" is the row with the greater
 * `emitted_at` (the job's micro-batch time); at equal `emitted_at` the greater count wins, so the order rows of
 * one batch arrive in does not matter.
 */
import type { AggregateRow } from '../../common/records.ts';
import type { SwarmMessage, SwarmWindow } from '../../common/socket-events.ts';

export type { AggregateRow };

/** Bounds of a {@link WindowStore}. */
export interface WindowStoreOptions {
  /** Windows kept per match (the most recent by window start). @default 30 */
  windowsPerMatch?: number;
  /** Matches kept; the least recently updated is forgotten first. @default 10000 */
  maxMatches?: number;
  /** Distinct emojis kept per window; rows for further emojis are dropped. @default 256 */
  maxEmojisPerWindow?: number;
}

interface EmojiState {
  count: number;
  swarm: number;
  emittedAt: number;
}

interface WindowState {
  windowStart: number;
  windowEnd: number;
  emitted_at: number;
  emojis: Map<string, EmojiState>;
}

/** What {@link WindowStore.apply} did with a batch of rows. */
export interface ApplyResult {
  /** One full window state per (match, window) that changed, in the order of first change. */
  changed: Omit<SwarmWindow, 'routed_at'>[];
  /** Rows that changed nothing (repeats, or older than what is held). */
  unchanged: number;
  /** Rows dropped by a bound (window older than every kept one, or too many emojis). */
  dropped: number;
}

/** Keeps the last windows of each match built from aggregate rows; bounded in matches, windows and emojis. */
export class WindowStore {
  readonly #windowsPerMatch: number;
  readonly #maxMatches: number;
  readonly #maxEmojis: number;
  /** match id → window start → state; Map order doubles as LRU order of matches. */
  readonly #matches = new Map<string, Map<number, WindowState>>();

  constructor(options: WindowStoreOptions = {}) {
    this.#windowsPerMatch = options.windowsPerMatch ?? 30;
    this.#maxMatches = options.maxMatches ?? 10_000;
    this.#maxEmojis = options.maxEmojisPerWindow ?? 256;
  }

  /** Number of matches held. */
  get matchCount(): number {
    return this.#matches.size;
  }

  /**
   * Folds a batch of rows in and returns the windows that changed, each as ONE message with the window's full
   * state, however many rows of that window the batch held.
   */
  apply(rows: Iterable<AggregateRow>): ApplyResult {
    const touched = new Map<string, { matchId: string; state: WindowState }>();
    let unchanged = 0;
    let dropped = 0;
    for (const row of rows) {
      const windows = this.#windowsOf(row.match_id);
      let state = windows.get(row.window_start);
      if (state === undefined) {
        if (!this.#makeRoom(windows, row.window_start)) {
          dropped++;
          continue;
        }
        state = {
          windowStart: row.window_start,
          windowEnd: row.window_end,
          emitted_at: 0,
          emojis: new Map(),
        };
        windows.set(row.window_start, state);
      }
      const previous = state.emojis.get(row.emoji);
      if (previous === undefined && state.emojis.size >= this.#maxEmojis) {
        dropped++;
        continue;
      }
      if (
        previous !== undefined &&
        (row.emitted_at < previous.emittedAt ||
          (row.emitted_at === previous.emittedAt && row.count <= previous.count))
      ) {
        unchanged++;
        continue;
      }
      if (previous !== undefined && previous.count === row.count && previous.swarm === row.swarm) {
        // The job re-emitted the same total (e.g. a micro-batch re-run after a restart): nothing to send.
        previous.emittedAt = row.emitted_at;
        unchanged++;
        continue;
      }
      state.emojis.set(row.emoji, { count: row.count, swarm: row.swarm, emittedAt: row.emitted_at });
      state.windowEnd = row.window_end;
      if (row.emitted_at > state.emitted_at) state.emitted_at = row.emitted_at;
      touched.set(`${row.match_id}\u0000${row.window_start}`, { matchId: row.match_id, state });
    }
    const changed = [...touched.values()].map(({ matchId, state }) => toWindow(matchId, state));
    return { changed, unchanged, dropped };
  }

  /** The kept windows of a match, oldest first. */
  snapshot(matchId: string): Omit<SwarmWindow, 'routed_at'>[] {
    const windows = this.#matches.get(matchId);
    if (windows === undefined) return [];
    return [...windows.values()]
      .sort((a, b) => a.windowStart - b.windowStart)
      .map((state) => toWindow(matchId, state));
  }

  #windowsOf(matchId: string): Map<number, WindowState> {
    let windows = this.#matches.get(matchId);
    if (windows === undefined) {
      windows = new Map();
      if (this.#matches.size >= this.#maxMatches) {
        const oldest = this.#matches.keys().next();
        if (!oldest.done) this.#matches.delete(oldest.value);
      }
    } else {
      this.#matches.delete(matchId); // re-inserted below: most recently updated goes last
    }
    this.#matches.set(matchId, windows);
    return windows;
  }

  /** Makes room for a new window; false when it is older than every kept window of a full match. */
  #makeRoom(windows: Map<number, WindowState>, windowStart: number): boolean {
    if (windows.size < this.#windowsPerMatch) return true;
    let oldest = Number.POSITIVE_INFINITY;
    for (const start of windows.keys()) if (start < oldest) oldest = start;
    if (windowStart < oldest) return false;
    windows.delete(oldest);
    return true;
  }
}

function toWindow(matchId: string, state: WindowState): Omit<SwarmWindow, 'routed_at'> {
  const counts: Record<string, number> = {};
  const swarm: Record<string, number> = {};
  for (const [emoji, value] of state.emojis) {
    counts[emoji] = value.count;
    swarm[emoji] = value.swarm;
  }
  return {
    match_id: matchId,
    window_start: state.windowStart,
    window_end: state.windowEnd,
    counts,
    swarm,
    emitted_at: state.emitted_at,
  };
}

/**
 * Recent client messages per match, as a subscriber node keeps them for snapshots. A message replaces the held
 * state of its window only if it is newer, so repeats and reordered deliveries are recognised and not relayed.
 */
export class MessageCache {
  readonly #windowsPerMatch: number;
  readonly #maxMatches: number;
  readonly #matches = new Map<string, Map<number, SwarmMessage>>();

  constructor(options: Pick<WindowStoreOptions, 'windowsPerMatch' | 'maxMatches'> = {}) {
    this.#windowsPerMatch = options.windowsPerMatch ?? 30;
    this.#maxMatches = options.maxMatches ?? 10_000;
  }

  /** Whether anything is held for the match. */
  has(matchId: string): boolean {
    return this.#matches.has(matchId);
  }

  /** Stores a message; true if it is newer than what was held for its window (so worth relaying). */
  put(message: SwarmMessage): boolean {
    let windows = this.#matches.get(message.match_id);
    if (windows === undefined) {
      if (this.#matches.size >= this.#maxMatches) {
        const oldest = this.#matches.keys().next();
        if (!oldest.done) this.#matches.delete(oldest.value);
      }
      windows = new Map();
      this.#matches.set(message.match_id, windows);
    }
    const held = windows.get(message.window_start);
    if (held !== undefined && !isNewer(message, held)) return false;
    if (held === undefined && windows.size >= this.#windowsPerMatch) {
      let oldest = Number.POSITIVE_INFINITY;
      for (const start of windows.keys()) if (start < oldest) oldest = start;
      if (message.window_start < oldest) return false;
      windows.delete(oldest);
    }
    windows.set(message.window_start, message);
    return true;
  }

  /** Held windows of a match, oldest first. */
  get(matchId: string): SwarmMessage[] {
    const windows = this.#matches.get(matchId);
    if (windows === undefined) return [];
    return [...windows.values()].sort((a, b) => a.window_start - b.window_start);
  }

  /** Forgets a match (no local viewer needs it any more). */
  delete(matchId: string): void {
    this.#matches.delete(matchId);
  }
}

function total(counts: Record<string, number>): number {
  let sum = 0;
  for (const value of Object.values(counts)) sum += value;
  return sum;
}

/** Later emitted_at wins; at a tie, the larger total (states of one window only grow). */
function isNewer(candidate: SwarmWindow, held: SwarmWindow): boolean {
  if (candidate.emitted_at !== held.emitted_at) return candidate.emitted_at > held.emitted_at;
  return total(candidate.counts) > total(held.counts);
}
