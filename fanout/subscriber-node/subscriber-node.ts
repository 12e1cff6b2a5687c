/**
 * A subscriber node: the Socket.IO server viewers connect to. This file keeps the rooms (who watches which
 * match) and composes the rest, each in its own file: the link to its cluster publisher (`publisher-link.ts`),
 * its side of the directory (`directory-client.ts`), the matches it serves (`match-subscriptions.ts`), the recent
 * windows it serves snapshots from (`message-cache.ts`), the viewer token check (`viewer-auth.ts`) and the
 * slow-viewer policy (`slow-viewers.ts`).
 *
 * - Viewers `join` / `leave` matches (rate-limited per connection, validated, bounded rooms per socket; unknown
 *   events and malformed payloads are acknowledged with an error and otherwise ignored). Each join answers with a
 *   `snapshot` of the recent windows, so a viewer that reconnects (here or on another node) catches up by joining
 *   again.
 * - When the first viewer of a match joins, the node subscribes at its publisher, reports the match to the
 *   directory (so the main publisher routes it to this cluster), and only then fetches the match's recent
 *   windows — in that order, so no window falls between the snapshot and the live stream. Every newer `swarm` it
 *   receives is broadcast (encoded once) into the local room `match:<id>`, and volatile into `slow:match:<id>`.
 * - `/metrics` adds viewers per match (`match-viewers.ts`: only watched matches, the top ones named, bounded).
 * - On stop it deregisters first, so no viewer is sent to a closing node.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createTokenVerifier } from '../../common/auth.ts';
import { createClientAddress } from '../../common/client-address.ts';
import { DEFAULT_CORS_ORIGINS } from '../../common/cors.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import { createRateLimiter } from '../../common/rate-limiter.ts';
import {
  type Ack,
  matchRoom,
  type NodeToViewerEvents,
  roomRequestSchema,
  type SocketErrorCode,
  type SwarmMessage,
  swarmMessageSchema,
  type ViewerToNodeEvents,
} from '../../common/socket-events.ts';
import type { SubscriberNodeConfig } from '../config.ts';
import {
  closeServer,
  closeSocketServer,
  createFanoutMetrics,
  createHttpApp,
  type FanoutService,
  listen,
} from '../http-server.ts';
import { createDirectoryReporter, type DirectoryClient, httpDirectoryClient } from './directory-client.ts';
import { MatchSubscriptions } from './match-subscriptions.ts';
import { createMatchViewersGauge } from './match-viewers.ts';
import { MessageCache } from './message-cache.ts';
import { OneWriteAdapter } from './one-write-adapter.ts';
import { type ConnectPublisher, type PublisherLink, socketPublisherLink } from './publisher-link.ts';
import { type SlowViewerState, sweepSlowViewers } from './slow-viewers.ts';
import { createHandshakeGate, requireViewerToken, viewerJwtAuth } from './viewer-auth.ts';

/** Dependencies of {@link createSubscriberNode}; all optional (tests pass the in-memory fakes). */
export interface SubscriberNodeDeps {
  logger?: Logger;
  /** @default a Socket.IO link to `config.clusterPublisherUrl` */
  publisher?: ConnectPublisher;
  /** @default the HTTP directory at `config.directoryUrl` */
  directory?: DirectoryClient;
}

/** A running subscriber node. */
export interface SubscriberNode extends FanoutService {
  readonly nodeId: string;
  /** Address viewers connect to (what the directory hands out). */
  readonly url: string;
  readonly viewerCount: number;
  /** Matches with viewers on this node. */
  readonly matches: string[];
}

interface ViewerData extends SlowViewerState {
  rooms: Set<string>;
}

type ViewerSocket = Socket<ViewerToNodeEvents, NodeToViewerEvents, Record<string, never>, ViewerData>;

/** Distinct matches one node serves at most (what it can report to the directory). */
const MAX_MATCHES_PER_NODE = 5_000;
/** Requests per second a viewer may send, sustained and in a burst, before they are refused. */
const MAX_EVENTS_PER_SECOND = 20;
/** A match without viewers is kept this long, so a viewer's quick reconnect does not churn subscriptions. */
const RELEASE_GRACE_MS = 5_000;

/** Room of the viewers of a match that are behind: they get volatile emits. */
function slowMatchRoom(matchId: string): string {
  return `slow:${matchRoom(matchId)}`;
}

function refuse(code: SocketErrorCode, message: string): Ack {
  return { ok: false, error: { code, message } };
}

/** Creates a subscriber node; nothing listens or connects before `start()`. */
export function createSubscriberNode(
  config: SubscriberNodeConfig,
  deps: SubscriberNodeDeps = {},
): SubscriberNode {
  const logger = (deps.logger ?? createLogger('fanout-node')).child({
    node: config.nodeId,
    cluster: config.clusterId,
  });
  const metrics = createFanoutMetrics(
    'subscriber-node',
    "Seconds from the cluster publisher's emit (sent_at) to this node's broadcast to its viewers returning.",
  );
  const connectPublisher =
    deps.publisher ??
    socketPublisherLink({
      url: config.clusterPublisherUrl,
      nodeId: config.nodeId,
      logger,
      linkSecret: config.linkSecret,
    });
  const directory = deps.directory ?? httpDirectoryClient(config.directoryUrl);
  const limiter = createRateLimiter({
    ratePerSec: MAX_EVENTS_PER_SECOND,
    burst: MAX_EVENTS_PER_SECOND,
    // One bucket per connection. A bucket lives a second (until refilled); past this many connections asking
    // within one second the least recent start over with a full bucket, which only loosens the limit.
    maxKeys: 50_000,
  });
  // Viewer identity (VIEWER_AUTH=jwt), the verifier built once per process.
  const jwt =
    config.viewerJwt === undefined
      ? undefined
      : viewerJwtAuth({
          verifier: createTokenVerifier(config.viewerJwt),
          onRefused: (reason) =>
            metrics.refused.inc({ code: reason === 'token_expired' ? 'token_expired' : 'bad_token' }),
        });
  const allowRequest = createHandshakeGate({
    origins: config.corsOrigins ?? DEFAULT_CORS_ORIGINS,
    limiter: createRateLimiter({
      ratePerSec: config.handshakeRatePerSec ?? 0,
      burst: config.handshakeBurst ?? 50,
      maxKeys: 100_000,
    }),
    clientAddress: createClientAddress(config.trustedProxies ?? []),
    onRefused: (code) => metrics.refused.inc({ code }),
  });
  const cache = new MessageCache();
  let io: Server<ViewerToNodeEvents, NodeToViewerEvents, Record<string, never>, ViewerData> | undefined;
  let server: HttpServer | undefined;
  let publisher: PublisherLink | undefined;
  let url = '';
  let stopping = false;
  let sweepTimer: NodeJS.Timeout | undefined;

  const viewerCount = () => io?.of('/').sockets.size ?? 0;
  const reporter = createDirectoryReporter(directory, {
    nodeId: config.nodeId,
    heartbeatMs: config.heartbeatMs,
    logger,
    current: () => ({
      cluster_id: config.clusterId,
      url,
      viewers: viewerCount(),
      matches: matches.ids(),
    }),
  });
  const isReady = () => !stopping && reporter.reported && publisher?.connected === true;

  async function fetchSnapshot(matchId: string): Promise<void> {
    try {
      cache.fill(matchId, await directory.windows(matchId));
    } catch (err) {
      // Viewers still join; they get the live windows and the next snapshot when they rejoin.
      logger.warn({ err: (err as Error).message, match: matchId }, 'snapshot fetch failed');
    }
  }

  function relay(raw: unknown): void {
    const parsed = swarmMessageSchema.safeParse(raw);
    if (!parsed.success) {
      metrics.refused.inc({ code: 'invalid_swarm' });
      return;
    }
    // Stamped before the cache keeps it, so a snapshot holds what viewers were sent (the hop trace's last stamp).
    const message: SwarmMessage = { ...parsed.data, relayed_at: Date.now() };
    metrics.messagesIn.inc({ kind: 'swarm' });
    if (!matches.has(message.match_id) || !cache.offer(message)) return;
    io?.to(matchRoom(message.match_id)).emit('swarm', message);
    const slowRoom = slowMatchRoom(message.match_id);
    if (io?.of('/').adapter.rooms.has(slowRoom)) io.to(slowRoom).volatile.emit('swarm', message);
    metrics.messagesOut.inc({ kind: 'swarm' });
    metrics.emitLatency.observe(Math.max(0, Date.now() - message.sent_at) / 1000);
  }

  /** Viewers of a match on this node, in its normal and its slow room. */
  function matchViewers(matchId: string): number {
    const rooms = io?.of('/').adapter.rooms;
    return (rooms?.get(matchRoom(matchId))?.size ?? 0) + (rooms?.get(slowMatchRoom(matchId))?.size ?? 0);
  }
  createMatchViewersGauge(metrics.registry, () =>
    matches.ids().map((matchId) => [matchId, matchViewers(matchId)] as const),
  );

  const matches = new MatchSubscriptions({
    graceMs: RELEASE_GRACE_MS,
    hasViewers: (matchId) => matchViewers(matchId) > 0,
    setUp: async (matchId) => {
      await publisher?.subscribe([matchId]);
      await reporter.report();
      await fetchSnapshot(matchId);
    },
    tearDown: (matchId) => {
      cache.delete(matchId);
      publisher?.unsubscribe([matchId]);
      void reporter.report();
    },
    onCount: (count) => metrics.rooms.set(count),
  });

  /** The preamble `join` and `leave` share: rate limit, then parse; `handler` gets a valid match id. */
  function roomHandler(
    socket: ViewerSocket,
    handler: (matchId: string, reply: (answer: Ack) => void) => unknown,
  ): (request: unknown, ack: unknown) => void {
    return (request, ack) => {
      const reply = typeof ack === 'function' ? (ack as (answer: Ack) => void) : () => {};
      if (!limiter.take(socket.id).ok) {
        metrics.refused.inc({ code: 'rate_limited' });
        return reply(refuse('rate_limited', `at most ${MAX_EVENTS_PER_SECOND} requests/s`));
      }
      const parsed = roomRequestSchema.safeParse(request);
      if (!parsed.success) {
        metrics.refused.inc({ code: 'invalid_payload' });
        return reply(refuse('invalid_payload', 'expected { match_id: string }'));
      }
      void handler(parsed.data.match_id, reply);
    };
  }

  async function join(socket: ViewerSocket, matchId: string, reply: (answer: Ack) => void): Promise<void> {
    const { rooms } = socket.data;
    if (!rooms.has(matchId)) {
      const denied = jwt?.mayJoin(socket, matchId);
      if (denied !== undefined) {
        metrics.refused.inc({ code: 'forbidden' });
        return reply(refuse('forbidden', denied));
      }
      if (rooms.size >= config.maxRoomsPerSocket) {
        metrics.refused.inc({ code: 'too_many_rooms' });
        return reply(refuse('too_many_rooms', `at most ${config.maxRoomsPerSocket} matches per connection`));
      }
      if (!matches.has(matchId) && matches.size >= MAX_MATCHES_PER_NODE) {
        metrics.refused.inc({ code: 'unavailable' });
        return reply(refuse('unavailable', 'this node serves too many matches'));
      }
      rooms.add(matchId); // counted at once, so concurrent joins cannot pass the bound
    }
    await matches.acquire(matchId);
    if (socket.disconnected || !rooms.has(matchId)) return reply(refuse('not_joined', 'left'));
    // Join and snapshot in one synchronous step: earlier windows are in the cache, later ones reach the room.
    socket.join(socket.data.slow ? slowMatchRoom(matchId) : matchRoom(matchId));
    socket.emit('snapshot', cache.snapshot(matchId));
    metrics.messagesOut.inc({ kind: 'snapshot' });
    reply({ ok: true, match_id: matchId, rooms: rooms.size });
  }

  function leave(socket: ViewerSocket, matchId: string, reply: (answer: Ack) => void): void {
    if (!socket.data.rooms.delete(matchId)) {
      reply(refuse('not_joined', `not in match ${matchId}`));
      return;
    }
    socket.leave(matchRoom(matchId));
    socket.leave(slowMatchRoom(matchId));
    matches.releaseIfUnwatched(matchId);
    reply({ ok: true, match_id: matchId, rooms: socket.data.rooms.size });
  }

  function onViewer(socket: ViewerSocket): void {
    socket.data = { rooms: new Set(), stalledSince: 0, slow: false };
    jwt?.onConnection(socket);
    metrics.viewers.set(viewerCount());
    socket.on(
      'join',
      roomHandler(socket, (matchId, reply) => join(socket, matchId, reply)),
    );
    socket.on(
      'leave',
      roomHandler(socket, (matchId, reply) => leave(socket, matchId, reply)),
    );
    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'join' || event === 'leave') return;
      metrics.refused.inc({ code: 'unknown_event' });
      const ack = args.at(-1);
      if (typeof ack === 'function') ack(refuse('unknown_event', `unknown event ${event.slice(0, 32)}`));
    });
    socket.on('disconnect', () => {
      metrics.viewers.set(viewerCount());
      for (const matchId of socket.data.rooms) matches.releaseIfUnwatched(matchId);
    });
  }

  /** Moves a viewer between the normal rooms (plain emits) and the slow ones (volatile emits). */
  function setSlow(socket: ViewerSocket, slow: boolean): void {
    socket.data.slow = slow;
    for (const matchId of socket.data.rooms) {
      socket.leave(slow ? matchRoom(matchId) : slowMatchRoom(matchId));
      socket.join(slow ? slowMatchRoom(matchId) : matchRoom(matchId));
    }
    metrics.refused.inc({ code: slow ? 'marked_slow' : 'recovered' });
  }

  return {
    get nodeId() {
      return config.nodeId;
    },
    get url() {
      return url;
    },
    get ready() {
      return isReady();
    },
    get viewerCount() {
      return viewerCount();
    },
    get matches() {
      return matches.ids();
    },
    metrics,
    async start() {
      const bound = await listen(createHttpApp(metrics, isReady), config.host, config.port);
      server = bound.server;
      url = config.publicUrl ?? `http://${config.host}:${bound.port}`;
      io = new Server(server, {
        serveClient: false,
        // Room for a handshake carrying an oversized token, so the verifier refuses it with a reason (past 4 kB)
        // instead of the transport closing without one; viewer events stay validated and rate-limited.
        maxHttpBufferSize: 10_240,
        connectTimeout: 10_000,
        perMessageDeflate: false,
        // Each broadcast frame in one buffer: one write per viewer (one-write-adapter.ts).
        adapter: OneWriteAdapter,
        allowRequest,
      });
      if (jwt !== undefined) io.use((socket, next) => jwt.middleware(socket, next));
      else if (config.viewerToken !== undefined)
        io.use(requireViewerToken(config.viewerToken, () => metrics.refused.inc({ code: 'bad_token' })));
      io.on('connection', onViewer);
      publisher = connectPublisher({
        onSwarm: relay,
        onConnect: () => void publisher?.subscribe(matches.ids()),
      });
      await reporter.start();
      sweepTimer = setInterval(() => {
        if (io === undefined) return;
        sweepSlowViewers(io.of('/').sockets.values(), {
          slowViewerMs: config.slowViewerMs,
          maxViewerBufferBytes: config.maxViewerBufferBytes,
          setSlow,
          onDropped: (socket, backlog) => {
            metrics.refused.inc({ code: 'slow_viewer' });
            logger.info({ viewer: socket.id, ...backlog }, 'disconnected a slow viewer');
          },
        });
      }, 1_000);
      sweepTimer.unref();
      logger.info({ url }, 'subscriber node listening');
    },
    async stop() {
      stopping = true;
      clearInterval(sweepTimer);
      matches.close();
      // Leave the directory first: no new viewer is sent here while the current ones are moved away.
      await reporter.stop();
      publisher?.close();
      if (io !== undefined && server !== undefined) await closeSocketServer(io, server);
      else if (server !== undefined) await closeServer(server);
      logger.info('subscriber node stopped');
    },
  };
}
