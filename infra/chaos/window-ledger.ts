/**
 * The books of a chaos run: per (match, window, emoji) what ingest acknowledged, and the final count viewers saw;
 * then, per window, the verdict.
 *
 * - Acknowledged: a batch answered 200 (durable: Kafka has every accepted item) or 202 (async: buffered) credits
 *   each item answered 200/202 to the window of the answer's `ingest_ts` (the event time, one per request).
 * - Durable and async reactions use disjoint emojis ({@link DURABLE_EMOJIS}, {@link ASYNC_EMOJIS}), so the one
 *   count per (match, window, emoji) that viewers see belongs to one mode only.
 * - Failed: a request that errored, timed out or was answered 5xx is not acknowledged; its reactions may or may not
 *   have landed (a durable request whose Kafka write succeeded just before ingest died). They are kept per send
 *   window, and excess seen in a window within {@link LedgerOptions.requestTimeoutMs} after such a send is put down
 *   to them ("unacked landed") before any is called a double count.
 * - Seen: the latest state of each window over every viewer, by the one rule of common/window-state.ts.
 *
 * Bounded: windows older than {@link LedgerOptions.maxWindowsPerMatch} per match are forgotten.
 */
import {
  isNewer,
  versionOf,
  WindowMap,
  type WindowStateLike,
  type WindowVersion,
} from '../../common/window-state.ts';

/** Length of the job's windows (emoji-swarm.yml `params.window`). */
export const WINDOW_MS = 2000;
/** Emojis of durable requests. */
export const DURABLE_EMOJIS = ['🔥', '👏'] as const;
/** Emojis of async requests. */
export const ASYNC_EMOJIS = ['❤️', '😂', '😮'] as const;

export type AckMode = 'durable' | 'async';

/** Start of the window holding `t`. */
export const windowOf = (t: number) => Math.floor(t / WINDOW_MS) * WINDOW_MS;

/** Options of {@link WindowLedger}. */
export interface LedgerOptions {
  /** A failed request's reactions may land up to this long after it was sent. @default 10000 */
  requestTimeoutMs?: number;
  /** Windows kept per match (a 20-minute run at 2 s is 600). @default 2000 */
  maxWindowsPerMatch?: number;
  /** Matches kept. @default 64 */
  maxMatches?: number;
}

interface Cell {
  acked: Record<string, number>;
  /** Reactions of failed requests sent in this window, per emoji. */
  failed: Record<string, number>;
}

/** The verdict on one (match, window). */
export interface WindowVerdict {
  match_id: string;
  window_start: number;
  durable: { acked: number; seen: number; lost: number; doubled: number; unacked_landed: number };
  async: { acked: number; seen: number; lost: number; excess: number };
}

const add = (into: Record<string, number>, key: string, n: number) => {
  into[key] = (into[key] ?? 0) + n;
};
const sum = (o: Record<string, number>, keys: readonly string[]) => keys.reduce((s, k) => s + (o[k] ?? 0), 0);

/** See the module comment. */
export class WindowLedger {
  readonly #cells: WindowMap<Cell>;
  readonly #seen: WindowMap<{ counts: Record<string, number>; version: WindowVersion }>;
  readonly #matches = new Set<string>();
  readonly #timeoutWindows: number;

  constructor(options: LedgerOptions = {}) {
    const bounds = {
      windowsPerMatch: options.maxWindowsPerMatch ?? 2000,
      maxMatches: options.maxMatches ?? 64,
    };
    this.#cells = new WindowMap(bounds);
    this.#seen = new WindowMap(bounds);
    this.#timeoutWindows = Math.ceil((options.requestTimeoutMs ?? 10_000) / WINDOW_MS);
  }

  #cell(matchId: string, windowStart: number): Cell {
    this.#matches.add(matchId);
    let cell = this.#cells.get(matchId, windowStart);
    if (cell === undefined) {
      cell = { acked: {}, failed: {} };
      this.#cells.set(matchId, windowStart, cell);
    }
    return cell;
  }

  /** Items of one answered request: per emoji, how many were acknowledged, in the window of `ingestTs`. */
  acked(matchId: string, ingestTs: number, perEmoji: Record<string, number>): void {
    const cell = this.#cell(matchId, windowOf(ingestTs));
    for (const [emoji, n] of Object.entries(perEmoji)) add(cell.acked, emoji, n);
  }

  /** Reactions of a request that failed (error, timeout, 5xx), sent at `sentAt`. */
  failed(matchId: string, sentAt: number, perEmoji: Record<string, number>): void {
    const cell = this.#cell(matchId, windowOf(sentAt));
    for (const [emoji, n] of Object.entries(perEmoji)) add(cell.failed, emoji, n);
  }

  /** A window state a viewer received (live or in a snapshot); the latest by the window-state rule is kept. */
  observed(state: WindowStateLike): void {
    const version = versionOf(state);
    const held = this.#seen.get(state.match_id, state.window_start);
    if (held !== undefined && !isNewer(version, held.version)) return;
    this.#seen.set(state.match_id, state.window_start, { counts: { ...state.counts }, version });
  }

  /** Verdicts of every window of every match with `from <= window_start < to`, by match, then window. */
  verdicts(from: number, to: number): WindowVerdict[] {
    const out: WindowVerdict[] = [];
    for (const matchId of [...this.#matches].sort()) {
      const starts: number[] = [];
      for (let w = windowOf(from - this.#timeoutWindows * WINDOW_MS); w < to; w += WINDOW_MS) starts.push(w);
      // Failed durable reactions that may yet explain an excess, per emoji: [send window, count] oldest first.
      const pool = new Map<string, [number, number][]>();
      for (const start of starts) {
        const cell = this.#cells.get(matchId, start);
        const seen = this.#seen.get(matchId, start)?.counts ?? {};
        for (const emoji of DURABLE_EMOJIS) {
          const n = cell?.failed[emoji] ?? 0;
          if (n > 0) pool.set(emoji, [...(pool.get(emoji) ?? []), [start, n]]);
        }
        if (start < from) continue;
        const v: WindowVerdict = {
          match_id: matchId,
          window_start: start,
          durable: { acked: 0, seen: 0, lost: 0, doubled: 0, unacked_landed: 0 },
          async: { acked: 0, seen: 0, lost: 0, excess: 0 },
        };
        for (const emoji of DURABLE_EMOJIS) {
          const acked = cell?.acked[emoji] ?? 0;
          const got = seen[emoji] ?? 0;
          v.durable.acked += acked;
          v.durable.seen += got;
          v.durable.lost += Math.max(0, acked - got);
          let excess = Math.max(0, got - acked);
          for (const entry of pool.get(emoji) ?? []) {
            if (excess === 0) break;
            if (entry[0] < start - this.#timeoutWindows * WINDOW_MS) continue;
            const take = Math.min(entry[1], excess);
            entry[1] -= take;
            excess -= take;
            v.durable.unacked_landed += take;
          }
          v.durable.doubled += excess;
        }
        const asyncAcked = cell ? sum(cell.acked, ASYNC_EMOJIS) : 0;
        const asyncSeen = sum(seen, ASYNC_EMOJIS);
        v.async.acked = asyncAcked;
        v.async.seen = asyncSeen;
        for (const emoji of ASYNC_EMOJIS) {
          const acked = cell?.acked[emoji] ?? 0;
          const got = seen[emoji] ?? 0;
          v.async.lost += Math.max(0, acked - got);
          v.async.excess += Math.max(0, got - acked);
        }
        out.push(v);
      }
    }
    return out;
  }
}
