/**
 * The subscriber node's recent windows of the matches it serves: filled from the main publisher's snapshot when a
 * match's first viewer joins, then kept up by the live stream. It answers two questions the node asks: is this
 * message worth relaying (newer than what is held, by the one rule in `common/window-state.ts`, so repeats and
 * reordered deliveries are not relayed), and what does a joining viewer's snapshot hold.
 */
import { type SnapshotMessage, type SwarmMessage, swarmMessageSchema } from '../../common/socket-events.ts';
import { LatestWindows, type WindowMapOptions } from '../../common/window-state.ts';

/** Recent windows per match, for snapshots and duplicate suppression. */
export class MessageCache {
  readonly #latest: LatestWindows<SwarmMessage>;

  constructor(options: WindowMapOptions = {}) {
    this.#latest = new LatestWindows(options);
  }

  /**
   * Folds in the windows a snapshot fetch returned (untrusted JSON): entries that are not well-formed windows of
   * `matchId` are skipped. Returns how many were kept.
   */
  fill(matchId: string, windows: readonly unknown[]): number {
    let kept = 0;
    for (const window of windows) {
      const parsed = swarmMessageSchema.safeParse(window);
      if (parsed.success && parsed.data.match_id === matchId && this.#latest.offer(parsed.data)) kept++;
    }
    return kept;
  }

  /** Keeps a live message; true if it is newer than what was held for its window (so worth relaying). */
  offer(message: SwarmMessage): boolean {
    return this.#latest.offer(message);
  }

  /** What a viewer joining `matchId` is sent: the held windows, oldest first. */
  snapshot(matchId: string): SnapshotMessage {
    return { match_id: matchId, windows: this.#latest.windows(matchId) };
  }

  /** Forgets a match (no local viewer needs it any more). */
  delete(matchId: string): void {
    this.#latest.delete(matchId);
  }
}
