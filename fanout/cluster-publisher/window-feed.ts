/**
 * An in-process source of windows for a cluster publisher, in place of its Kafka topic. The fan-out benchmark
 * measures the Socket.IO hops alone this way, and the Socket.IO tests drive a real publisher without a broker.
 * A publisher given a feed reads only the feed (see `ClusterPublisherDeps.windows`).
 */
import type { SwarmWindow } from '../../common/socket-events.ts';

/** Windows pushed in-process to the cluster publisher it is given to. */
export class WindowFeed {
  #onWindow: ((window: SwarmWindow) => void) | undefined;

  /** Called by the publisher when it starts; a feed serves one publisher. */
  attach(onWindow: (window: SwarmWindow) => void): void {
    if (this.#onWindow !== undefined) throw new Error('this window feed already serves a cluster publisher');
    this.#onWindow = onWindow;
  }

  /** Hands a window to the publisher, which emits it to the nodes subscribed to its match at once. */
  push(window: SwarmWindow): void {
    if (this.#onWindow === undefined) throw new Error('no started cluster publisher reads this window feed');
    this.#onWindow(window);
  }
}
