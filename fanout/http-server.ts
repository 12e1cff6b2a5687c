/**
 * What every fan-out tier serves over HTTP besides its own routes: `/health`, `/ready`, `/metrics`, problem+json
 * errors, and an HTTP server that closes in order.
 */
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type Express } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { methodNotAllowed, writeProblem } from '../common/problem.ts';
import type { Service } from '../common/service.ts';
import { problemHandler, problems } from './errors.ts';

/** The Prometheus metrics every tier exposes (a registry per tier, so several tiers can share a process). */
export interface FanoutMetrics {
  registry: Registry;
  viewers: Gauge;
  rooms: Gauge;
  messagesIn: Counter<'kind'>;
  messagesOut: Counter<'kind'>;
  emitLatency: Histogram;
  refused: Counter<'code'>;
}

/** What every fan-out tier is: a {@link Service} with an HTTP address, a readiness flag and its own metrics. */
export interface FanoutService extends Service {
  start(): Promise<void>;
  /** Base URL of its HTTP server, once started. */
  readonly url: string;
  readonly ready: boolean;
  readonly metrics: FanoutMetrics;
}

/**
 * Creates the metrics of one tier. `emitLatencyHelp` says what the tier's latency measures, as it differs per hop.
 */
export function createFanoutMetrics(role: string, emitLatencyHelp: string, defaults = false): FanoutMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  if (defaults) collectDefaultMetrics({ register: registry });
  return {
    registry,
    viewers: new Gauge({
      name: 'fanout_viewers',
      help: 'Connected viewers (subscriber node).',
      registers: [registry],
    }),
    rooms: new Gauge({
      name: 'fanout_rooms',
      help: 'Match rooms with members (node: viewers, publisher: nodes; main: matches held).',
      registers: [registry],
    }),
    messagesIn: new Counter({
      name: 'fanout_messages_in_total',
      help: 'Messages received, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    messagesOut: new Counter({
      name: 'fanout_messages_out_total',
      help: 'Messages sent (one per broadcast or Kafka record), by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    emitLatency: new Histogram({
      name: 'fanout_emit_latency_seconds',
      help: emitLatencyHelp,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'fanout_refused_total',
      help: 'Requests refused or peers disconnected, by reason.',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}

/**
 * Builds the express app of a tier with health, readiness and metrics routes; `mount` adds the tier's routes.
 * A known path asked with a method it does not serve answers 405 with `Allow`, an unknown path 404, any error
 * the shared problem+json (see `common/problem.ts`).
 */
export function createHttpApp(
  metrics: FanoutMetrics,
  isReady: () => boolean,
  mount: (app: Express) => void = () => {},
): Express {
  const app = express();
  app.disable('x-powered-by');
  const getOnly = methodNotAllowed(['GET', 'HEAD']);
  app
    .route('/health')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(getOnly);
  app
    .route('/ready')
    .get((_req, res) => {
      if (isReady()) res.json({ status: 'ready' });
      else writeProblem(res, problems.notReady('This tier is starting, stopping or has lost an upstream'));
    })
    .all(getOnly);
  app
    .route('/metrics')
    .get(async (_req, res, next) => {
      try {
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      } catch (err) {
        next(err);
      }
    })
    .all(getOnly);
  mount(app);
  app.use((req, res) => {
    writeProblem(res, problems.notFound(req.method, req.path));
  });
  app.use(problemHandler);
  return app;
}

/** An HTTP server listening on host:port (0 = a free port), with its bound port. */
export async function listen(
  handler: Express | RequestListener | undefined,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  // Track raw sockets: upgraded (WebSocket) connections are not closed by server.close() nor closeAllConnections().
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  openSockets.set(server, sockets);
  server.listen(port, host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

const openSockets = new WeakMap<Server, Set<Socket>>();

/**
 * Closes a server: stops accepting, ends idle keep-alive connections, and after `graceMs` destroys whatever is
 * still open (e.g. a WebSocket whose peer never answers the close handshake).
 */
export async function closeServer(server: Server, graceMs = 2_000): Promise<void> {
  const closed = new Promise<void>((resolve) => {
    if (server.listening) server.close(() => resolve());
    else resolve();
  });
  server.closeIdleConnections();
  const force = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  }, graceMs);
  force.unref();
  await closed;
  clearTimeout(force);
}

/** Closes a Socket.IO server and its HTTP server within about `graceMs`, however its clients behave. */
export async function closeSocketServer(
  io: { disconnectSockets(close: boolean): void; close(fn?: (err?: Error) => void): unknown },
  server: Server,
  graceMs = 2_000,
): Promise<void> {
  io.disconnectSockets(true);
  const ioClosed = new Promise<void>((resolve) => {
    io.close(() => resolve());
  });
  const timer = setTimeout(() => {
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  }, graceMs);
  timer.unref();
  await ioClosed;
  clearTimeout(timer);
  await closeServer(server, graceMs);
}
