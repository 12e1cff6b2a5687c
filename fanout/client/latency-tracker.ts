/**
 * End-to-end latency of the pipeline as the load simulator measures it: from "ingest accepted the reaction" to
 * "the first viewer holds a window count that includes it".
 *
 * Reactions are not individually visible at a viewer, only a window's running total is. So per (match, window)
 * the tracker keeps the acceptance times in order as a step list (cumulative count → when accepted); when any
 * viewer first reports a total of C for that window, every accepted reaction up to position C not yet seen is
 * delivered, with latency = now − its acceptance time. Windows are the ingest timestamp's 2-second windows; the
 * caller names the window of a batch from the `ingest_ts` the batch answer carries (one ingest timestamp per batch).
 */
import hdr from 'hdr-histogram-js';

interface WindowTrack {
  /** Cumulative accepted count after each accepted batch, and when it was accepted. */
  steps: { cumulative: number; at: number }[];
  accepted: number;
  /** Highest total seen at any viewer. */
  seen: number;
  lastTouched: number;
}

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

  /** `n` reactions of `matchId` in the window starting at `windowStart` were accepted at `at`. */
  accepted(matchId: string, windowStart: number, n: number, at: number): void {
    if (n <= 0) return;
    const key = `${matchId}|${windowStart}`;
    let track = this.#windows.get(key);
    if (track === undefined) {
      track = { steps: [], accepted: 0, seen: 0, lastTouched: at };
      this.#windows.set(key, track);
    }
    track.accepted += n;
    track.steps.push({ cumulative: track.accepted, at });
    track.lastTouched = at;
  }

  /** A viewer holds `total` reactions (all emojis) for the window of `matchId` starting at `windowStart`, at `at`. */
  observed(matchId: string, windowStart: number, total: number, at: number): void {
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
