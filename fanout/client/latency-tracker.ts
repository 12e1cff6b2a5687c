/**
 * End-to-end latency of the pipeline as the load simulator measures it: from "ingest accepted the reaction" to
 * "the first viewer holds a window count that includes it".
 *
 * Reactions are not individually visible at a viewer, only a window's running total is. So per (match, window)
 * the tracker keeps the acceptance times in order as a step list (cumulative count → when accepted); when any
 * viewer first reports a total of C for that window, every accepted reaction up to position C not yet seen is
 * delivered, with latency = now − its acceptance time. Windows are the ingest timestamp's 2-second windows; the
 * caller names the window of a batch from the `ingest_ts` the batch answer carries (one ingest timestamp per batch).
 *
 * Given the window message's hop stamps (`observed(…, trace)`) and, for a batch, when its records reached Kafka
 * (`onKafka`), each delivered reaction's latency is also split into the pipeline's hops (hop-trace.ts).
 */
import hdr from 'hdr-histogram-js';
import type { SwarmTrace } from '../../common/socket-events.ts';
import { HopStats, type HopSummary } from './hop-trace.ts';

interface WindowTrack {
  /** Cumulative accepted count after each accepted batch, when it was accepted, and its ingest timestamp. */
  steps: { cumulative: number; at: number; ingestTs?: number }[];
  accepted: number;
  /** Highest total seen at any viewer. */
  seen: number;
  lastTouched: number;
}

/** Batches whose Kafka time is kept (a few minutes of batches at the load simulator's request rates). */
const MAX_ON_KAFKA = 100_000;

/** Latency figures in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Tracks accepted reactions and their first sighting at a viewer; see the module comment. */
export class LatencyTracker {
  readonly #windows = new Map<string, WindowTrack>();
  readonly #histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000 });
  /** Reactions seen at viewers beyond what was accepted for that window (a batch credited to the wrong window). */
  #unexplained = 0;
  readonly #hops = new HopStats();
  /** When the records of a batch reached Kafka, by match and ingest timestamp (the batch's identity). */
  readonly #onKafka = new Map<string, number>();
  /** Reactions seen in messages without hop stamps (e.g. a caller that passes none). */
  #untraced = 0;

  /**
   * `n` reactions of `matchId` in the window starting at `windowStart` were accepted at `at`; `ingestTs`, the
   * batch's ingest timestamp, names it for {@link onKafka}.
   */
  accepted(matchId: string, windowStart: number, n: number, at: number, ingestTs?: number): void {
    if (n <= 0) return;
    const key = `${matchId}|${windowStart}`;
    let track = this.#windows.get(key);
    if (track === undefined) {
      track = { steps: [], accepted: 0, seen: 0, lastTouched: at };
      this.#windows.set(key, track);
    }
    track.accepted += n;
    track.steps.push({ cumulative: track.accepted, at, ingestTs });
    track.lastTouched = at;
  }

  /**
   * A record of the batch of `matchId` stamped `ingestTs` reached Kafka at `at` (its record timestamp); the latest
   * record of a batch counts. Before or after the batch's `accepted`, either order.
   */
  onKafka(matchId: string, ingestTs: number, at: number): void {
    const key = `${matchId}|${ingestTs}`;
    const held = this.#onKafka.get(key);
    if (held === undefined || at > held) this.#onKafka.set(key, at);
    // Bounded on long runs: the oldest entries go first (a batch is seen long before then).
    if (this.#onKafka.size > MAX_ON_KAFKA) {
      const oldest = this.#onKafka.keys().next().value;
      if (oldest !== undefined) this.#onKafka.delete(oldest);
    }
  }

  /**
   * A viewer holds `total` reactions (all emojis) for the window of `matchId` starting at `windowStart`, at `at`;
   * `trace`, the message's hop stamps, splits the latency of the reactions it delivers into hops.
   */
  observed(
    matchId: string,
    windowStart: number,
    total: number,
    at: number,
    trace?: Partial<SwarmTrace>,
  ): void {
    const track = this.#windows.get(`${matchId}|${windowStart}`);
    if (track === undefined || total <= track.seen) return;
    const upTo = Math.min(total, track.accepted);
    if (total > track.accepted) this.#unexplained += total - Math.max(track.seen, track.accepted);
    let from = track.seen;
    while (track.steps.length > 0 && from < upTo) {
      const step = track.steps[0];
      if (step === undefined) break;
      const reach = Math.min(step.cumulative, upTo);
      this.#histogram.recordValueWithCount(Math.max(1, at - step.at), reach - from);
      if (trace === undefined) this.#untraced += reach - from;
      else {
        const onKafkaAt =
          step.ingestTs === undefined ? undefined : this.#onKafka.get(`${matchId}|${step.ingestTs}`);
        this.#hops.record({ acceptedAt: step.at, onKafkaAt, trace, seenAt: at }, reach - from);
      }
      from = reach;
      if (reach === step.cumulative) track.steps.shift();
    }
    track.seen = Math.max(track.seen, Math.min(total, Math.max(track.accepted, track.seen)));
    track.lastTouched = at;
  }

  /** Forgets windows untouched since `before` (bounded memory on long runs); returns their unseen reactions. */
  prune(before: number): number {
    let unseen = 0;
    for (const [key, track] of this.#windows) {
      if (track.lastTouched < before) {
        unseen += Math.max(0, track.accepted - track.seen);
        this.#windows.delete(key);
      }
    }
    return unseen;
  }

  /** Accepted reactions not yet seen at any viewer, over the windows still tracked. */
  get pending(): number {
    let n = 0;
    for (const track of this.#windows.values()) n += Math.max(0, track.accepted - track.seen);
    return n;
  }

  get unexplained(): number {
    return this.#unexplained;
  }

  /** The delivered reactions' latency split into hops, and how many were delivered without hop stamps. */
  hops(): HopSummary & { untraced: number } {
    return { ...this.#hops.summary(), untraced: this.#untraced };
  }

  summary(): LatencySummary {
    const h = this.#histogram;
    return {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
      mean: Math.round(h.mean),
    };
  }
}
