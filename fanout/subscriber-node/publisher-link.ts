/**
 * A subscriber node's link to its cluster publisher: subscribe to the matches the node has viewers of, receive
 * their `swarm` messages. A narrow interface with two implementations, the way the schema-registry client has
 * `SchemaRegistryClient` and `MockClient`:
 * - {@link socketPublisherLink}: a Socket.IO client of the cluster publisher (what runs in production);
 * - {@link FakePublisher}: an in-memory publisher for tests, which delivers what a test publishes to the links
 *   subscribed to its match, as the publisher's rooms do.
 */
import { io as connectClient, type Socket } from 'socket.io-client';
import type { Logger } from '../../common/logger.ts';
import type {
  NodeAuth,
  NodeToPublisherEvents,
  PublisherToNodeEvents,
  SubscriptionAck,
  SwarmMessage,
} from '../../common/socket-events.ts';

/** What a link reports to the node that opened it. */
export interface PublisherLinkHandlers {
  /** A `swarm` message arrived: untrusted until the node validates it. */
  onSwarm(raw: unknown): void;
  /** (Re)connected. The publisher keeps no subscriptions across connections, so the node subscribes again. */
  onConnect(): void;
}

/** An open link to a cluster publisher. */
export interface PublisherLink {
  /** Connected right now (a subscribe while disconnected is a no-op: `onConnect` follows the reconnect). */
  readonly connected: boolean;
  /** Subscribes to matches; settles once the publisher answered. Refusals are logged, never thrown. */
  subscribe(matchIds: readonly string[]): Promise<void>;
  /** Unsubscribes from matches, without waiting for the answer. */
  unsubscribe(matchIds: readonly string[]): void;
  /** Closes the link for good. */
  close(): void;
}

/** Opens a link; how a subscriber node is given its publisher. */
export type ConnectPublisher = (handlers: PublisherLinkHandlers) => PublisherLink;

/** Options of {@link socketPublisherLink}. */
export interface SocketPublisherLinkOptions {
  /** Base URL of the cluster publisher. */
  url: string;
  nodeId: string;
  logger: Logger;
  /** How long a subscribe waits for its answer. @default 5000 */
  ackTimeoutMs?: number;
  /** `FANOUT_LINK_SECRET`, sent in the handshake. @default none */
  linkSecret?: string;
}

/** Matches per `subscribe` request: the publisher's `subscriptionRequestSchema` allows at most this many. */
const MATCHES_PER_REQUEST = 1000;

/** The Socket.IO link: websocket transport, reconnecting with backoff for as long as the node runs. */
export function socketPublisherLink(options: SocketPublisherLinkOptions): ConnectPublisher {
  const { logger } = options;
  const ackTimeoutMs = options.ackTimeoutMs ?? 5_000;
  return (handlers) => {
    const socket: Socket<PublisherToNodeEvents, NodeToPublisherEvents> = connectClient(options.url, {
      transports: ['websocket'],
      auth: (options.linkSecret === undefined
        ? { node_id: options.nodeId }
        : { node_id: options.nodeId, link_secret: options.linkSecret }) satisfies NodeAuth,
      reconnectionDelay: 200,
      reconnectionDelayMax: 2_000,
    });
    socket.on('swarm', (raw: unknown) => handlers.onSwarm(raw));
    socket.on('connect', () => {
      logger.info('connected to cluster publisher');
      handlers.onConnect();
    });
    socket.on('disconnect', (reason) => logger.warn({ reason }, 'disconnected from cluster publisher'));
    socket.on('connect_error', (err) => logger.warn({ err: err.message }, 'cluster publisher unreachable'));
    return {
      get connected() {
        return socket.connected;
      },
      async subscribe(matchIds) {
        if (!socket.connected) return;
        for (let i = 0; i < matchIds.length; i += MATCHES_PER_REQUEST) {
          const answer: SubscriptionAck = await socket
            .timeout(ackTimeoutMs)
            .emitWithAck('subscribe', { match_ids: matchIds.slice(i, i + MATCHES_PER_REQUEST) })
            .catch((err: unknown) => ({ ok: false, error: { code: 'unavailable', message: String(err) } }));
          if (!answer.ok) logger.warn({ error: answer.error }, 'subscribe at publisher refused');
        }
      },
      unsubscribe(matchIds) {
        if (!socket.connected || matchIds.length === 0) return;
        socket.emit('unsubscribe', { match_ids: [...matchIds] }, () => {});
      },
      close() {
        socket.close();
      },
    };
  };
}

interface FakeLink {
  handlers: PublisherLinkHandlers;
  matches: Set<string>;
  open: boolean;
}

/**
 * An in-memory cluster publisher for tests: {@link FakePublisher.connect} is the node's `ConnectPublisher`;
 * {@link FakePublisher.publish} delivers a message to every open link subscribed to its match.
 */
export class FakePublisher {
  readonly #links = new Set<FakeLink>();

  /** The node-side factory; each link connects on the next microtask, as a real one connects asynchronously. */
  readonly connect: ConnectPublisher = (handlers) => {
    const link: FakeLink = { handlers, matches: new Set(), open: true };
    this.#links.add(link);
    queueMicrotask(() => {
      if (link.open) handlers.onConnect();
    });
    return {
      get connected() {
        return link.open;
      },
      subscribe: async (matchIds) => {
        if (link.open) for (const id of matchIds) link.matches.add(id);
      },
      unsubscribe: (matchIds) => {
        for (const id of matchIds) link.matches.delete(id);
      },
      close: () => {
        link.open = false;
        this.#links.delete(link);
      },
    };
  };

  /** Open links (subscriber nodes connected). */
  get linkCount(): number {
    return this.#links.size;
  }

  /** Links subscribed to a match. */
  subscribers(matchId: string): number {
    let n = 0;
    for (const link of this.#links) if (link.matches.has(matchId)) n++;
    return n;
  }

  /** Delivers a message to the links subscribed to its match. */
  publish(message: SwarmMessage): void {
    this.publishRaw(message.match_id, message);
  }

  /** Delivers anything (nodes must validate what they receive) to the links subscribed to `matchId`. */
  publishRaw(matchId: string, payload: unknown): void {
    for (const link of this.#links) if (link.matches.has(matchId)) link.handlers.onSwarm(payload);
  }
}
