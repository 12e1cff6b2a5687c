/**
 * The matches a subscriber node serves. The first viewer of a match sets it up once (the node subscribes at its
 * publisher, reports to the directory, fetches the snapshot — in that order) and every joiner waits for that;
 * when its last viewer leaves, the match is kept for a grace period, so a viewer's quick reconnect does not churn
 * subscriptions at the publisher and the directory, and then torn down.
 */

/** Options of {@link MatchSubscriptions}. */
export interface MatchSubscriptionsOptions {
  /** A match without viewers is kept this long before it is torn down. */
  graceMs: number;
  /** Whether any viewer still watches the match (asked at release and again when the grace ends). */
  hasViewers(matchId: string): boolean;
  /** Runs once per match, on its first acquire; must not reject. */
  setUp(matchId: string): Promise<void>;
  /** Runs once the match is no longer served (it is already gone from {@link MatchSubscriptions.ids}). */
  tearDown(matchId: string): void;
  /** Called with the number of matches served whenever it changes. */
  onCount?(count: number): void;
}

/** Matches served, each with its set-up settling once, and released after a grace period without viewers. */
export class MatchSubscriptions {
  readonly #options: MatchSubscriptionsOptions;
  readonly #ready = new Map<string, Promise<void>>();
  readonly #releaseTimers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(options: MatchSubscriptionsOptions) {
    this.#options = options;
  }

  /** Matches served. */
  get size(): number {
    return this.#ready.size;
  }

  has(matchId: string): boolean {
    return this.#ready.has(matchId);
  }

  ids(): string[] {
    return [...this.#ready.keys()];
  }

  /** Serves `matchId` (cancelling a pending release); settles once its set-up has. */
  acquire(matchId: string): Promise<void> {
    clearTimeout(this.#releaseTimers.get(matchId));
    this.#releaseTimers.delete(matchId);
    let ready = this.#ready.get(matchId);
    if (ready === undefined) {
      ready = this.#options.setUp(matchId);
      this.#ready.set(matchId, ready);
      this.#options.onCount?.(this.#ready.size);
    }
    return ready;
  }

  /** Starts the grace period of a match that no viewer watches any more. */
  releaseIfUnwatched(matchId: string): void {
    const { hasViewers } = this.#options;
    if (this.#closed || this.#releaseTimers.has(matchId) || !this.#ready.has(matchId) || hasViewers(matchId))
      return;
    const timer = setTimeout(() => {
      this.#releaseTimers.delete(matchId);
      if (hasViewers(matchId)) return;
      this.#ready.delete(matchId);
      this.#options.onCount?.(this.#ready.size);
      this.#options.tearDown(matchId);
    }, this.#options.graceMs);
    timer.unref();
    this.#releaseTimers.set(matchId, timer);
  }

  /** Cancels pending releases; the node is stopping and tears everything down at once. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#releaseTimers.values()) clearTimeout(timer);
    this.#releaseTimers.clear();
  }
}
