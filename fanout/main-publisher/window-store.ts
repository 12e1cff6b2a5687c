/**
 * Recent window state per match, folded from idempotent aggregate rows.
 *
 * Aggregate rows carry running totals keyed by (match, window start, emoji), so folding keeps the latest value
 * per key and never adds: a replayed or repeated row changes nothing. "Latest" is decided by the one window-state
 * rule, `isNewer` in `common/window-state.ts`, applied to each emoji's row as to a one-emoji window (greater
 * `emitted_at`, then greater count), so the order the rows of one batch arrive in does not matter. The windows
 * are held in that module's bounded `WindowMap`.
 */
import type { AggregateRow } from '../../common/records.ts';
import type { SwarmWindow } from '../../common/socket-events.ts';
import { isNewer, WindowMap } from '../../common/window-state.ts';

/** Bounds of a {@link WindowStore}. */
export interface WindowStoreOptions {
  /** Windows kept per match (the most recent by window start). @default 30 */
  windowsPerMatch?: number;
  /** Matches kept; the least recently updated is forgotten first (see `WindowMap`). @default 10000 */
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
  /** Kafka timestamp of the newest row that changed the window; null until a row carried one. */
  aggregated_at: number | null;
  emojis: Map<string, EmojiState>;
}

/**
 * An aggregate row as read off Kafka: the record, and the record's Kafka timestamp when known (the job's sink
 * leaves it to the producer, so it is when the sink wrote the row, near the end of the micro-batch).
 */
export type TimedAggregateRow = AggregateRow & { aggregated_at?: number };

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
  readonly #maxEmojis: number;
  readonly #windows: WindowMap<WindowState>;

  constructor(options: WindowStoreOptions = {}) {
    this.#windows = new WindowMap(options);
    this.#maxEmojis = options.maxEmojisPerWindow ?? 256;
  }

  /** Number of matches held. */
  get matchCount(): number {
    return this.#windows.matchCount;
  }

  /**
   * Folds a batch of rows in and returns the windows that changed, each as ONE message with the window's full
   * state, however many rows of that window the batch held.
   */
  apply(rows: Iterable<TimedAggregateRow>): ApplyResult {
    const touched = new Map<string, { matchId: string; state: WindowState }>();
    let unchanged = 0;
    let dropped = 0;
    for (const row of rows) {
      let state = this.#windows.get(row.match_id, row.window_start);
      if (state === undefined) {
        state = {
          windowStart: row.window_start,
          windowEnd: row.window_end,
          emitted_at: 0,
          aggregated_at: null,
          emojis: new Map(),
        };
        if (!this.#windows.set(row.match_id, row.window_start, state)) {
          dropped++;
          continue;
        }
      }
      const previous = state.emojis.get(row.emoji);
      if (previous === undefined && state.emojis.size >= this.#maxEmojis) {
        dropped++;
        continue;
      }
      if (
        previous !== undefined &&
        !isNewer(
          { emitted_at: row.emitted_at, total: row.count },
          { emitted_at: previous.emittedAt, total: previous.count },
        )
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
      // The hop trace of the newest update (see SwarmTrace): the latest write among the rows that changed it.
      if (row.aggregated_at !== undefined && row.aggregated_at > (state.aggregated_at ?? -1))
        state.aggregated_at = row.aggregated_at;
      touched.set(`${row.match_id}\u0000${row.window_start}`, { matchId: row.match_id, state });
    }
    const changed = [...touched.values()].map(({ matchId, state }) => toWindow(matchId, state));
    return { changed, unchanged, dropped };
  }

  /** The kept windows of a match, oldest first. */
  snapshot(matchId: string): Omit<SwarmWindow, 'routed_at'>[] {
    return this.#windows.windows(matchId).map((state) => toWindow(matchId, state));
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
    aggregated_at: state.aggregated_at,
  };
}
