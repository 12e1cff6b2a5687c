/**
 * Steady load on a running pipeline for the chaos suite: viewers spread over the matches (assigned by the
 * directory, as apps do, through fanout's viewer client), and reactions at a fixed rate through ingest's batch
 * endpoint, alternating durable (`?durable=true`, answered 200 once Kafka has them) and async (202) requests, each
 * recorded in a {@link WindowLedger}. Every reaction carries its own user id (`chaos-<run>-<n>`), so no two are alike
 * to the client either; the per-user rate limit must be off in the ingest under test. With `tokens` (the stack's auth
 * on), each request reacts as the next subject of the token pool instead, and each viewer presents a token for its
 * match.
 *
 * A failed request is never retried: ingest makes each reaction's event id, so a client retry is a new reaction,
 * not a redelivery. What failed is counted as "failed requests the client saw".
 *
 * It also keeps what the fault measurements need: when each viewer last lost its node, got it back and got a
 * snapshot, and when a window message first arrived for a window that began after a given instant.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwarmMessage } from '../../common/socket-events.ts';
import { createViewer, type Viewer } from '../../fanout/index.ts';
import type { LoadTokens } from '../local/load-tokens.ts';
import { type AckMode, ASYNC_EMOJIS, DURABLE_EMOJIS, type WindowLedger } from './window-ledger.ts';

/** Options of {@link startSteadyLoad}. */
export interface SteadyLoadOptions {
  ingestUrl: string;
  directoryUrl: string;
  ledger: WindowLedger;
  /** Reactions per second over all matches. @default 2000 */
  rate?: number;
  /** @default 200 */
  viewers?: number;
  /** @default 4 */
  matches?: number;
  /** Share of requests sent durable. @default 0.5 */
  durableShare?: number;
  /** Most reactions per request. @default 100 */
  batch?: number;
  /** Requests waiting for an answer at once; reactions due beyond it are not sent (and counted). @default 64 */
  maxInFlight?: number;
  /** A request not answered by then failed. @default 10000 */
  requestTimeoutMs?: number;
  /** Match id prefix. @default `chaos-<random>` */
  prefix?: string;
  /** Tokens when the stack's auth is on (INGEST_AUTH/VIEWER_AUTH=jwt). @default none */
  tokens?: LoadTokens;
}

/** A viewer of the load and its connection history. */
export interface LoadViewer {
  viewer: Viewer;
  matchId: string;
  /** Last time its connection was lost, epoch ms (0: never). */
  lostAt: number;
  /** Last time it (re)connected and joined. */
  connectedAt: number;
  /** Last time it got a snapshot (every join brings one). */
  snapshotAt: number;
  /** When it first got a message (live or snapshot) for a window starting at or after `since`, if it has. */
  firstWindowAfter(since: number): number | undefined;
  /**
   * The longest wait, ms, between two messages (live or snapshot) this viewer got, over the waits that overlap
   * `(from, to]`; a wait still open at `to` counts up to `to`. Waits under {@link GAP_FLOOR_MS} are not kept.
   */
  longestGap(from: number, to: number): number;
}

/** Windows whose first arrival each viewer remembers (its most recent ones). */
const ARRIVALS_KEPT = 64;
/** Waits between messages each viewer remembers (its most recent ones), and the shortest kept. */
const GAPS_KEPT = 256;
export const GAP_FLOOR_MS = 1000;

/** The waits between one viewer's messages: {@link LoadViewer.longestGap}. */
export interface GapTracker {
  /** A message arrived at `at` (epoch ms). */
  note(at: number): void;
  longest(from: number, to: number): number;
}

/** A {@link GapTracker} keeping the most recent `kept` waits of at least `floorMs`. */
export function createGapTracker(kept = GAPS_KEPT, floorMs = GAP_FLOOR_MS): GapTracker {
  // Oldest first; `last` is the latest arrival.
  const gaps: { start: number; end: number }[] = [];
  let last: number | undefined;
  return {
    note(at) {
      if (last !== undefined && at - last >= floorMs) {
        if (gaps.length >= kept) gaps.shift();
        gaps.push({ start: last, end: at });
      }
      last = Math.max(last ?? at, at);
    },
    longest(from, to) {
      let longest = 0;
      for (const g of gaps) {
        if (g.end > from && g.start < to) longest = Math.max(longest, Math.min(g.end, to) - g.start);
      }
      if (last !== undefined && last < to) longest = Math.max(longest, to - last);
      return longest;
    },
  };
}

/** Counters of the load. */
export interface LoadTotals {
  requests: number;
  durableAcked: number;
  asyncAcked: number;
  /** Requests that errored, timed out or were answered 5xx, and their reactions. */
  failedRequests: number;
  failedReactions: number;
  /**
   * Failed requests by cause: HTTP status or `network`/`timeout`. A 503 counts as `503` only with a Retry-After
   * header (ingest's backpressure answer), otherwise as `503-no-retry-after`.
   */
  failedBy: Record<string, number>;
  /** Items refused one by one (4xx, or per-item 429): not acknowledged, never sent to Kafka. */
  refused: number;
  /** Reactions due but not sent because `maxInFlight` requests were waiting. */
  notSent: number;
  swarms: number;
  snapshots: number;
}

/** A running {@link startSteadyLoad}. */
export interface SteadyLoad {
  readonly matches: string[];
  readonly viewers: LoadViewer[];
  readonly totals: LoadTotals;
  /** Stops sending; resolves once every request in flight is answered. Viewers stay. */
  stopSending(): Promise<void>;
  /** Stops sending and closes every viewer. */
  stop(): Promise<void>;
}

/** Connects the viewers (20 at a time), then starts sending. */
export async function startSteadyLoad(options: SteadyLoadOptions): Promise<SteadyLoad> {
  const rate = options.rate ?? 2000;
  const viewerCount = options.viewers ?? 200;
  const matchCount = options.matches ?? 4;
  const durableShare = options.durableShare ?? 0.5;
  const batchMax = options.batch ?? 100;
  const maxInFlight = options.maxInFlight ?? 64;
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const prefix = options.prefix ?? `chaos-${randomUUID().slice(0, 6)}`;
  const matches = Array.from({ length: matchCount }, (_, i) => `${prefix}-${i + 1}`);
  const { ledger } = options;
  const totals: LoadTotals = {
    requests: 0,
    durableAcked: 0,
    asyncAcked: 0,
    failedRequests: 0,
    failedReactions: 0,
    failedBy: {},
    refused: 0,
    notSent: 0,
    swarms: 0,
    snapshots: 0,
  };

  const viewers: LoadViewer[] = [];
  let next = 0;
  const connectWorker = async () => {
    while (next < viewerCount) {
      const i = next++;
      const matchId = matches[i % matchCount] as string;
      const viewer = createViewer({
        directoryUrl: options.directoryUrl,
        matchIds: [matchId],
        windowsPerMatch: 5,
        reconnectTimeoutMs: 300_000,
        token: await options.tokens?.viewer(i, [matchId]),
      });
      // First arrival per window start, most recent ARRIVALS_KEPT windows (insertion order is arrival order).
      const arrivals = new Map<number, number>();
      const gaps = createGapTracker();
      const noteWindow = (m: SwarmMessage, at: number) => {
        ledger.observed(m);
        if (arrivals.has(m.window_start)) return;
        if (arrivals.size >= ARRIVALS_KEPT) arrivals.delete(arrivals.keys().next().value as number);
        arrivals.set(m.window_start, at);
      };
      const lv: LoadViewer = {
        viewer,
        matchId,
        lostAt: 0,
        connectedAt: 0,
        snapshotAt: 0,
        firstWindowAfter(since) {
          let first: number | undefined;
          for (const [start, at] of arrivals) {
            if (start >= since && (first === undefined || at < first)) first = at;
          }
          return first;
        },
        longestGap: (from, to) => gaps.longest(from, to),
      };
      viewer.on('swarm', (m) => {
        totals.swarms++;
        const now = Date.now();
        gaps.note(now);
        noteWindow(m, now);
      });
      viewer.on('snapshot', (s) => {
        totals.snapshots++;
        const now = Date.now();
        lv.snapshotAt = now;
        if (s.windows.length > 0) gaps.note(now);
        for (const w of s.windows) noteWindow(w, now);
      });
      viewer.on('connected', () => {
        lv.connectedAt = Date.now();
      });
      viewer.on('disconnected', () => {
        lv.lostAt = Date.now();
      });
      viewer.on('error', () => {});
      viewers.push(lv);
      await viewer.start();
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(20, viewerCount) }, connectWorker));
  } catch (err) {
    for (const v of viewers) v.viewer.stop();
    throw new Error(
      `could not connect the viewers through ${options.directoryUrl}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }

  let seq = 0;
  let inFlight = 0;
  let requestNo = 0;
  const userPrefix = `chaos-${randomUUID().slice(0, 8)}`;
  const post = async (matchId: string, n: number, mode: AckMode) => {
    const emojis = mode === 'durable' ? DURABLE_EMOJIS : ASYNC_EMOJIS;
    const now = Date.now();
    const reactor = options.tokens?.nextReactor();
    const reactions = Array.from({ length: n }, (_, k) => ({
      match_id: matchId,
      user_id: reactor?.subject ?? `${userPrefix}-${seq++}`,
      emoji: emojis[k % emojis.length] as string,
      timestamp: now,
    }));
    const perEmoji: Record<string, number> = {};
    for (const r of reactions) perEmoji[r.emoji] = (perEmoji[r.emoji] ?? 0) + 1;
    const fail = (cause: string) => {
      totals.failedRequests++;
      totals.failedReactions += n;
      totals.failedBy[cause] = (totals.failedBy[cause] ?? 0) + 1;
      ledger.failed(matchId, now, perEmoji);
    };
    inFlight++;
    totals.requests++;
    try {
      const res = await fetch(
        `${options.ingestUrl}/v1/reactions:batch${mode === 'durable' ? '?durable=true' : ''}`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(reactor === undefined ? {} : { authorization: reactor.authorization }),
          },
          body: JSON.stringify({ reactions }),
          signal: AbortSignal.timeout(timeoutMs),
        },
      );
      const text = await res.text();
      if (res.status === 200 || res.status === 202) {
        const body = JSON.parse(text) as { ingest_ts: number; results: { status: number }[] };
        const acked: Record<string, number> = {};
        let ok = 0;
        body.results.forEach((r, i) => {
          if (r.status === 200 || r.status === 202) {
            const emoji = reactions[i]?.emoji as string;
            acked[emoji] = (acked[emoji] ?? 0) + 1;
            ok++;
          }
        });
        totals.refused += n - ok;
        if (mode === 'durable') totals.durableAcked += ok;
        else totals.asyncAcked += ok;
        ledger.acked(matchId, body.ingest_ts, acked);
      } else if (res.status >= 500) {
        const backpressure = res.status === 503 && res.headers.get('retry-after') !== null;
        fail(res.status === 503 && !backpressure ? '503-no-retry-after' : String(res.status));
      } else {
        totals.refused += n;
      }
    } catch (err) {
      fail((err as Error).name === 'TimeoutError' ? 'timeout' : 'network');
    } finally {
      inFlight--;
    }
  };

  let sending = true;
  const sender = (async () => {
    const started = Date.now();
    let sent = 0;
    let cursor = 0;
    while (sending) {
      let owed = Math.floor(((Date.now() - started) / 1000) * rate) - sent;
      while (owed > 0) {
        const n = Math.min(owed, batchMax);
        if (inFlight >= maxInFlight) {
          totals.notSent += owed;
          sent += owed;
          break;
        }
        const matchId = matches[cursor++ % matchCount] as string;
        // Deterministic interleave per match: its k-th request is durable when k × share crosses an integer
        // (counting over all requests would, with matches and modes in step, give some matches one mode only).
        const k = Math.floor(requestNo++ / matchCount);
        const mode: AckMode =
          Math.floor((k + 1) * durableShare) > Math.floor(k * durableShare) ? 'durable' : 'async';
        void post(matchId, n, mode);
        sent += n;
        owed -= n;
      }
      await sleep(50);
    }
    while (inFlight > 0) await sleep(20);
  })();

  const stopSending = async () => {
    sending = false;
    await sender;
  };
  return {
    matches,
    viewers,
    totals,
    stopSending,
    async stop() {
      await stopSending();
      for (const v of viewers) v.viewer.stop();
    },
  };
}
