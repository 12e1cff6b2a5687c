/**
 * The supervisor's own tiny HTTP endpoint, served by the foreground runner (`npm start`, `npm run stack`) on
 * loopback (`--status-port`/`EMOSTREAM_STATUS_PORT`, default 8089; 0 picks a free port). A stable contract: the
 * chaos suite picks its victims from `/status`.
 *
 * `GET /status` → `application/json`:
 * ```
 * { "services": [ { "name": "spark-job",          // service name, as in the logs and pid files
 *                   "state": "ready",             // starting | ready | backoff | stopped
 *                   "pgid": 12345,                // its process group's id (<runDir>/pids/<name>.pid)
 *                   "pid": 12345,                 // the service's own process (the group's leader), or null
 *                   "restarts": 1,                // restarts after unexpected exits
 *                   "lastExit": { "code": 137, "signal": null, "at": "2026-…Z" } | null,
 *                   "log": "<runDir>/logs/spark-job.log" } ] }
 * ```
 * The service leads its group, so `pid` equals `pgid` while it runs; it is null during backoff, when `pgid` is the
 * last run's. Killing `pid` is a crash of the service alone; killing the group `-pgid` takes what it started too
 * (a Spark launcher's spark-submit and driver JVM).
 *
 * `GET /metrics` → Prometheus text (prom-client): `emostream_service_restarts_total{service}` (counter) and
 * `emostream_service_up{service}` (gauge, 1 while ready).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { PortInUseError } from './errors.ts';
import { isAlive, type RunningService, type ServiceExit, type ServiceState } from './supervisor.ts';

/** Default port of the status endpoint. */
export const DEFAULT_STATUS_PORT = 8089;
/** How errors name the endpoint. */
export const STATUS_SERVICE = 'Supervisor status endpoint';

/** One entry of `GET /status`. */
export interface ServiceStatus {
  name: string;
  state: ServiceState;
  pgid: number;
  pid: number | null;
  restarts: number;
  lastExit: ServiceExit | null;
  log: string;
}

/** The service's own process: the leader of its group, while it runs. */
export function servicePid(pgid: number): number | null {
  return isAlive(pgid) ? pgid : null;
}

/** The `/status` body for `services`. */
export function supervisionStatus(services: readonly RunningService[]): { services: ServiceStatus[] } {
  return {
    services: services.map((s) => ({
      name: s.name,
      state: s.state,
      pgid: s.pid,
      pid: s.state === 'backoff' || s.state === 'stopped' ? null : servicePid(s.pid),
      restarts: s.restarts,
      lastExit: s.lastExit ?? null,
      log: s.logFile,
    })),
  };
}

/** Metrics of the supervisor: read from the services at scrape time, so they cannot drift. */
export function supervisionMetrics(services: readonly RunningService[]): Registry {
  const registry = new Registry();
  new Counter({
    name: 'emostream_service_restarts_total',
    help: 'Restarts of a supervised service after it exited unexpectedly',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of services) this.inc({ service: s.name }, s.restarts);
    },
  });
  new Gauge({
    name: 'emostream_service_up',
    help: '1 while a supervised service is ready, else 0 (starting, in backoff, stopped)',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      for (const s of services) this.set({ service: s.name }, s.state === 'ready' ? 1 : 0);
    },
  });
  return registry;
}

/** A listening status endpoint. */
export interface StatusServer {
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

/** Serves `/status` and `/metrics` of `services` on `host:port` (0: a free port). */
export async function startStatusServer(
  services: readonly RunningService[],
  options: { host: string; port: number },
): Promise<StatusServer> {
  const registry = supervisionMetrics(services);
  const server = createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
    } else if (route === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(supervisionStatus(services), null, 2)}\n`);
    } else if (route === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (error: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(error.message),
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /status or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE' ? new PortInUseError(STATUS_SERVICE, options.host, options.port) : error,
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
