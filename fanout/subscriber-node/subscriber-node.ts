/**
 * A subscriber node: the Socket.IO server viewers connect to.
 *
 * - Viewers `join` / `leave` matches (validated, bounded rooms per socket, unknown events and malformed payloads
 *   acknowledged with an error and otherwise ignored). Each join answers with a `snapshot` of the recent
 *   windows, so a viewer that reconnects (here or on another node) catches up by joining again.
 * - The node is a Socket.IO client of its cluster publisher and subscribes there to the matches it has viewers
 *   of; every `swarm` it receives is broadcast (encoded once) into the local room `match:<id>`. Writes to each
 *   viewer are independent, so a slow viewer never delays the others. A viewer found with data queued (its
 *   connection is not keeping up) moves to `slow:match:<id>`, which gets volatile emits: an update it cannot take
 *   right now is dropped rather than queued (the next one carries the full window). It moves back once drained,
 *   and is disconnected if it stays stalled past a bound. Healthy viewers get plain emits, because a volatile
 *   emit is also dropped for a healthy socket while its previous write is in flight (two windows in one tick).
 * - Snapshots come from a local cache of the recent windows of the node's matches; when the first viewer of a
 *   match joins, the node subscribes at its publisher, reports the match to the directory (so the main
 *   publisher routes it to this cluster), and only then fetches the match's recent windows from the main
 *   publisher — in that order, so no window falls between the snapshot and the live stream.
 * - The node reports its address, viewer count and matches to the directory every heartbeat and at once when
 *   its set of matches changes; on stop it deregisters first, so no viewer is sent to a closing node.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { type Socket as ClientSocket, io as connectClient } from 'socket.io-client';
import { createLogger, type Logger } from '../../common/logger.ts';
import {
  type Ack,
  matchRoom,
  type NodeToPublisherEvents,
  type NodeToViewerEvents,
  type PublisherToNodeEvents,
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
  type FanoutMetrics,
  listen,
} from '../http-server.ts';
import type { NodeReport } from '../main-publisher/directory.ts';
import { MessageCache } from './message-cache.ts';

/** Dependencies of {@link createSubscriberNode}; all optional. */
export interface SubscriberNodeDeps {
  logger?: Logger;
  fetch?: typeof fetch;
}

/** A running subscriber node. */
export interface SubscriberNode {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly nodeId: string;
  /** Address viewers connect to (what the directory hands out). */
  readonly url: string;
  readonly ready: boolean;
  readonly metrics: FanoutMetrics;
  readonly viewerCount: number;
  /** Matches with viewers on this node. */
  readonly matches: string[];
}

interface ViewerData {
  rooms: Set<string>;
  stalledSince: number;
  /** In the slow rooms (volatile emits) rather than the normal ones. */
  slow: boolean;
  eventsThisSecond: number;
  second: number;
}

type ViewerSocket = Socket<ViewerToNodeEvents, NodeToViewerEvents, Record<string, never>, ViewerData>;

/** Distinct matches one node serves at most (what it can report to the directory). */
const MAX_MATCHES_PER_NODE = 5_000;
/** Requests per second a viewer may send before they are refused. */
const MAX_EVENTS_PER_SECOND = 20;
/** Bytes queued in the kernel-bound WebSocket buffer, or packets in engine.io, from which a viewer counts as slow. */
const SLOW_BYTES = 64 * 1024;
const SLOW_PACKETS = 16;
/** Packets queued in engine.io for one viewer before it is disconnected. */
const MAX_QUEUED_PACKETS = 256;
/** A match without viewers is kept this long, so a viewer's quick reconnect does not churn subscriptions. */
const RELEASE_GRACE_MS = 5_000;

/** Room of the viewers of a match that are behind: they get volatile emits. */
function slowMatchRoom(matchId: string): string {
  return `slow:${matchRoom(matchId)}`;
}

function refuse(code: SocketErrorCode, message: string): Ack {
  return { ok: false, error: { code, message } };
}

function tokensEqual(expected: string, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
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
  const doFetch = deps.fetch ?? fetch;
  const metrics = createFanoutMetrics(
    'subscriber-node',
    "Seconds from the cluster publisher's emit (sent_at) to this node's broadcast to its viewers returning.",
  );
  const cache = new MessageCache();
  /** Matches this node serves → settles once subscribed, reported and snapshot-fetched. */
  const matches = new Map<string, Promise<void>>();
  const releaseTimers = new Map<string, NodeJS.Timeout>();

  let io: Server<ViewerToNodeEvents, NodeToViewerEvents, Record<string, never>, ViewerData> | undefined;
  let server: HttpServer | undefined;
  let publisher: ClientSocket<PublisherToNodeEvents, NodeToPublisherEvents> | undefined;
  let url = '';
  let stopping = false;
  let reported = false;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let reportInFlight: Promise<void> | undefined;
  let reportAgain = false;

  const viewerCount = () => io?.of('/').sockets.size ?? 0;

  // ---- directory -------------------------------------------------------------------------------------------

  async function sendReport(): Promise<void> {
    const body: NodeReport = {
      cluster_id: config.clusterId,
      url,
      viewers: viewerCount(),
      matches: [...matches.keys()],
    };
    const res = await doFetch(`${config.directoryUrl}/v1/nodes/${encodeURIComponent(config.nodeId)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) throw new Error(`directory answered ${res.status}`);
    reported = true;
  }

  /** Reports now; concurrent callers share the request in flight, and one more report follows it. */
  function report(): Promise<void> {
    if (stopping) return Promise.resolve();
    if (reportInFlight !== undefined) {
      reportAgain = true;
      return reportInFlight;
    }
    reportInFlight = sendReport()
      .catch((err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'directory report failed');
      })
      .finally(() => {
        reportInFlight = undefined;
        if (reportAgain) {
          reportAgain = false;
          void report();
        }
      });
    return reportInFlight;
  }

  async function fetchSnapshot(matchId: string): Promise<void> {
    try {
      const res = await doFetch(`${config.directoryUrl}/v1/matches/${encodeURIComponent(matchId)}/windows`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (!res.ok) throw new Error(`main publisher answered ${res.status}`);
      const body = (await res.json()) as { windows?: unknown[] };
      cache.fill(matchId, body.windows ?? []);
    } catch (err) {
      // Viewers still join; they get the live windows and the next snapshot when they rejoin.
      logger.warn({ err: (err as Error).message, match: matchId }, 'snapshot fetch failed');
    }
  }

  // ---- publisher ---------------------------------------------------------------------------------------------

  async function subscribeAtPublisher(matchIds: string[]): Promise<void> {
    if (publisher?.connected !== true || matchIds.length === 0) return; // (re)subscribed on (re)connect
    for (let i = 0; i < matchIds.length; i += 1000) {
      const answer = await publisher
        .timeout(5_000)
        .emitWithAck('subscribe', { match_ids: matchIds.slice(i, i + 1000) })
        .catch((err: unknown) => ({
          ok: false as const,
          error: { code: 'unavailable', message: String(err) },
        }));
      if (!answer.ok) logger.warn({ error: answer.error }, 'subscribe at publisher refused');
    }
  }

  function relay(raw: unknown): void {
    const parsed = swarmMessageSchema.safeParse(raw);
    if (!parsed.success) {
      metrics.refused.inc({ code: 'invalid_swarm' });
      return;
    }
    const message: SwarmMessage = parsed.data;
    metrics.messagesIn.inc({ kind: 'swarm' });
    if (!matches.has(message.match_id) || !cache.offer(message)) return;
    io?.to(matchRoom(message.match_id)).emit('swarm', message);
    const slowRoom = slowMatchRoom(message.match_id);
    if (io?.of('/').adapter.rooms.has(slowRoom)) io.to(slowRoom).volatile.emit('swarm', message);
    metrics.messagesOut.inc({ kind: 'swarm' });
    metrics.emitLatency.observe(Math.max(0, Date.now() - message.sent_at) / 1000);
  }

  // ---- matches ----------------------------------------------------------------------------------------------

  function acquire(matchId: string): Promise<void> {
    const timer = releaseTimers.get(matchId);
    if (timer !== undefined) {
      clearTimeout(timer);
      releaseTimers.delete(matchId);
    }
    let ready = matches.get(matchId);
    if (ready === undefined) {
      ready = (async () => {
        await subscribeAtPublisher([matchId]);
        await report();
        await fetchSnapshot(matchId);
      })();
      matches.set(matchId, ready);
      metrics.rooms.set(matches.size);
    }
    return ready;
  }

  function hasViewers(matchId: string): boolean {
    const rooms = io?.of('/').adapter.rooms;
    return (rooms?.get(matchRoom(matchId))?.size ?? 0) + (rooms?.get(slowMatchRoom(matchId))?.size ?? 0) > 0;
  }

  function releaseIfEmpty(matchId: string): void {
    if (stopping || releaseTimers.has(matchId) || !matches.has(matchId)) return;
    if (hasViewers(matchId)) return;
    const timer = setTimeout(() => {
      releaseTimers.delete(matchId);
      if (hasViewers(matchId)) return;
      matches.delete(matchId);
      cache.delete(matchId);
      metrics.rooms.set(matches.size);
      if (publisher?.connected) publisher.emit('unsubscribe', { match_ids: [matchId] }, () => {});
      void report();
    }, RELEASE_GRACE_MS);
    timer.unref();
    releaseTimers.set(matchId, timer);
  }

  // ---- viewers ----------------------------------------------------------------------------------------------

  function allowed(socket: ViewerSocket): boolean {
    const second = Math.floor(Date.now() / 1000);
    if (socket.data.second !== second) {
      socket.data.second = second;
      socket.data.eventsThisSecond = 0;
    }
    return ++socket.data.eventsThisSecond <= MAX_EVENTS_PER_SECOND;
  }

  function onViewer(socket: ViewerSocket): void {
    socket.data = { rooms: new Set(), stalledSince: 0, slow: false, eventsThisSecond: 0, second: 0 };
    metrics.viewers.set(viewerCount());

    socket.on('join', async (request: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (a: Ack) => void) : () => {};
      if (!allowed(socket))
        return reply(refuse('rate_limited', `at most ${MAX_EVENTS_PER_SECOND} requests/s`));
      const parsed = roomRequestSchema.safeParse(request);
      if (!parsed.success) {
        metrics.refused.inc({ code: 'invalid_payload' });
        return reply(refuse('invalid_payload', 'expected { match_id: string }'));
      }
      const matchId = parsed.data.match_id;
      if (!socket.data.rooms.has(matchId)) {
        if (socket.data.rooms.size >= config.maxRoomsPerSocket) {
          metrics.refused.inc({ code: 'too_many_rooms' });
          return reply(
            refuse('too_many_rooms', `at most ${config.maxRoomsPerSocket} matches per connection`),
          );
        }
        if (!matches.has(matchId) && matches.size >= MAX_MATCHES_PER_NODE) {
          metrics.refused.inc({ code: 'unavailable' });
          return reply(refuse('unavailable', 'this node serves too many matches'));
        }
        socket.data.rooms.add(matchId); // counted at once, so concurrent joins cannot pass the bound
      }
      await acquire(matchId);
      if (socket.disconnected || !socket.data.rooms.has(matchId)) return reply(refuse('not_joined', 'left'));
      // Join and snapshot in one synchronous step: earlier windows are in the cache, later ones reach the room.
      socket.join(socket.data.slow ? slowMatchRoom(matchId) : matchRoom(matchId));
      socket.emit('snapshot', cache.snapshot(matchId));
      metrics.messagesOut.inc({ kind: 'snapshot' });
      reply({ ok: true, match_id: matchId, rooms: socket.data.rooms.size });
    });

    socket.on('leave', (request: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (a: Ack) => void) : () => {};
      if (!allowed(socket))
        return reply(refuse('rate_limited', `at most ${MAX_EVENTS_PER_SECOND} requests/s`));
      const parsed = roomRequestSchema.safeParse(request);
      if (!parsed.success) {
        metrics.refused.inc({ code: 'invalid_payload' });
        return reply(refuse('invalid_payload', 'expected { match_id: string }'));
      }
      const matchId = parsed.data.match_id;
      if (!socket.data.rooms.delete(matchId)) return reply(refuse('not_joined', `not in match ${matchId}`));
      socket.leave(matchRoom(matchId));
      socket.leave(slowMatchRoom(matchId));
      releaseIfEmpty(matchId);
      reply({ ok: true, match_id: matchId, rooms: socket.data.rooms.size });
    });

    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'join' || event === 'leave') return;
      metrics.refused.inc({ code: 'unknown_event' });
      const ack = args.at(-1);
      if (typeof ack === 'function') ack(refuse('unknown_event', `unknown event ${event.slice(0, 32)}`));
    });

    socket.on('disconnect', () => {
      metrics.viewers.set(viewerCount());
      for (const matchId of socket.data.rooms) releaseIfEmpty(matchId);
    });
  }

  /** Moves a viewer between the normal rooms (plain emits) and the slow ones (volatile emits). */
  function setSlow(socket: ViewerSocket, slow: boolean): void {
    if (socket.data.slow === slow) return;
    socket.data.slow = slow;
    for (const matchId of socket.data.rooms) {
      socket.leave(slow ? matchRoom(matchId) : slowMatchRoom(matchId));
      socket.join(slow ? slowMatchRoom(matchId) : matchRoom(matchId));
    }
    metrics.refused.inc({ code: slow ? 'marked_slow' : 'recovered' });
  }

  /**
   * Sampled each second: a viewer with data queued moves to the volatile rooms and back once drained; one whose
   * transport could not take a write for `slowViewerMs` (a healthy socket is unwritable only while a write is in
   * flight), or with more than the byte or packet bound queued, is disconnected.
   */
  function sweepSlowViewers(): void {
    if (io === undefined) return;
    const now = Date.now();
    for (const socket of io.of('/').sockets.values()) {
      // engine.io keeps the packet queue private and exposes no bufferedAmount: both read structurally.
      const conn = socket.conn as unknown as { writeBuffer: unknown[]; transport: unknown };
      const transport = conn.transport as {
        writable: boolean;
        socket?: { bufferedAmount?: number; terminate?: () => void };
      };
      const buffered = transport.socket?.bufferedAmount ?? 0;
      const queued = conn.writeBuffer.length;
      if (transport.writable && buffered === 0 && queued === 0) {
        socket.data.stalledSince = 0;
        setSlow(socket, false);
        continue;
      }
      if (buffered > SLOW_BYTES || queued > SLOW_PACKETS) setSlow(socket, true);
      if (socket.data.stalledSince === 0) socket.data.stalledSince = now;
      const tooMuch = buffered > config.maxViewerBufferBytes || queued > MAX_QUEUED_PACKETS;
      if (tooMuch || now - socket.data.stalledSince > config.slowViewerMs) {
        metrics.refused.inc({ code: 'slow_viewer' });
        logger.info({ viewer: socket.id, buffered, queued }, 'disconnecting a slow viewer');
        socket.disconnect(true);
        // A peer that does not read will not answer the close handshake either: free the connection now.
        transport.socket?.terminate?.();
      }
    }
  }

  return {
    get nodeId() {
      return config.nodeId;
    },
    get url() {
      return url;
    },
    get ready() {
      return !stopping && reported && publisher?.connected === true;
    },
    get viewerCount() {
      return viewerCount();
    },
    get matches() {
      return [...matches.keys()];
    },
    metrics,
    async start() {
      const app = createHttpApp(metrics, () => !stopping && reported && publisher?.connected === true);
      const bound = await listen(app, config.host, config.port);
      server = bound.server;
      url = config.publicUrl ?? `http://${config.host}:${bound.port}`;
      io = new Server(server, {
        serveClient: false,
        maxHttpBufferSize: 4_096,
        connectTimeout: 10_000,
        perMessageDeflate: false,
      });
      if (config.viewerToken !== undefined) {
        const token = config.viewerToken;
        io.use((socket, next) => {
          if (tokensEqual(token, (socket.handshake.auth as { token?: unknown }).token)) next();
          else {
            metrics.refused.inc({ code: 'bad_token' });
            next(new Error('unauthorized'));
          }
        });
      }
      io.on('connection', onViewer);

      publisher = connectClient(config.clusterPublisherUrl, {
        transports: ['websocket'],
        auth: { node_id: config.nodeId },
        reconnectionDelay: 200,
        reconnectionDelayMax: 2_000,
      });
      publisher.on('swarm', relay);
      publisher.on('connect', () => {
        logger.info('connected to cluster publisher');
        void subscribeAtPublisher([...matches.keys()]);
      });
      publisher.on('disconnect', (reason) => logger.warn({ reason }, 'disconnected from cluster publisher'));
      publisher.on('connect_error', (err) =>
        logger.warn({ err: err.message }, 'cluster publisher unreachable'),
      );

      await report();
      heartbeatTimer = setInterval(() => void report(), config.heartbeatMs);
      heartbeatTimer.unref();
      sweepTimer = setInterval(sweepSlowViewers, 1_000);
      sweepTimer.unref();
      logger.info({ url }, 'subscriber node listening');
    },
    async stop() {
      stopping = true;
      clearInterval(heartbeatTimer);
      clearInterval(sweepTimer);
      for (const timer of releaseTimers.values()) clearTimeout(timer);
      await reportInFlight;
      // Leave the directory first: no new viewer is sent here while the current ones are moved away.
      await doFetch(`${config.directoryUrl}/v1/nodes/${encodeURIComponent(config.nodeId)}`, {
        method: 'DELETE',
        signal: AbortSignal.timeout(2_000),
      }).catch(() => {});
      publisher?.close();
      if (io !== undefined && server !== undefined) await closeSocketServer(io, server);
      else if (server !== undefined) await closeServer(server);
      logger.info('subscriber node stopped');
    },
  };
}
