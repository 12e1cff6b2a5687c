/**
 * A subscriber node's side of the directory (served by the main publisher): node reports, deregistration and the
 * snapshot fetch of a match's recent windows.
 *
 * - {@link DirectoryClient} is the narrow interface, with an HTTP implementation ({@link httpDirectoryClient})
 *   and an in-memory fake ({@link InMemoryDirectory}), as the schema-registry client has `SchemaRegistryClient`
 *   and `MockClient`.
 * - {@link createDirectoryReporter} is the node's reporting policy over any client: a heartbeat, an immediate
 *   report when the node's matches change (concurrent callers share one request and one more follows it, so the
 *   last state always reaches the directory), and deregistration first on stop.
 */
import type { Logger } from '../../common/logger.ts';
import type { NodeReport } from '../main-publisher/directory.ts';

/** What a subscriber node asks of the directory. */
export interface DirectoryClient {
  /** Records the node's address, load and matches (a heartbeat that expires); rejects if not accepted. */
  report(nodeId: string, report: NodeReport): Promise<void>;
  /** Removes the node, so no viewer is sent to it any more. */
  deregister(nodeId: string): Promise<void>;
  /** The recent windows of a match, oldest first, as received: the node validates them. */
  windows(matchId: string): Promise<readonly unknown[]>;
}

/** Options of {@link httpDirectoryClient}. */
export interface HttpDirectoryClientOptions {
  /** Injectable for tests. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Per request. @default 2000 */
  timeoutMs?: number;
}

/** The directory over HTTP (`fanout/main-publisher/directory-routes.ts` is the other side). */
export function httpDirectoryClient(
  baseUrl: string,
  options: HttpDirectoryClientOptions = {},
): DirectoryClient {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const nodeUrl = (nodeId: string) => `${baseUrl}/v1/nodes/${encodeURIComponent(nodeId)}`;
  return {
    async report(nodeId, report) {
      const res = await doFetch(nodeUrl(nodeId), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`directory answered ${res.status} to the node report`);
    },
    async deregister(nodeId) {
      const res = await doFetch(nodeUrl(nodeId), {
        method: 'DELETE',
        signal: AbortSignal.timeout(timeoutMs),
      });
      // 404: the directory had already dropped the node (its heartbeat expired): the outcome asked for.
      if (!res.ok && res.status !== 404)
        throw new Error(`directory answered ${res.status} to deregistration`);
    },
    async windows(matchId) {
      const res = await doFetch(`${baseUrl}/v1/matches/${encodeURIComponent(matchId)}/windows`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) throw new Error(`main publisher answered ${res.status} to the snapshot fetch`);
      const body = (await res.json()) as { windows?: unknown };
      return Array.isArray(body.windows) ? body.windows : [];
    },
  };
}

/**
 * An in-memory directory for tests: keeps the last report of each node and serves the windows a test put in.
 * Set {@link InMemoryDirectory.unavailable} to make every call reject, as an unreachable directory does.
 */
export class InMemoryDirectory implements DirectoryClient {
  /** Last report per node id. */
  readonly nodes = new Map<string, NodeReport>();
  /** Windows served per match id. */
  readonly matchWindows = new Map<string, unknown[]>();
  unavailable = false;

  async report(nodeId: string, report: NodeReport): Promise<void> {
    this.#check();
    this.nodes.set(nodeId, structuredClone(report));
  }

  async deregister(nodeId: string): Promise<void> {
    this.#check();
    this.nodes.delete(nodeId);
  }

  async windows(matchId: string): Promise<readonly unknown[]> {
    this.#check();
    return this.matchWindows.get(matchId) ?? [];
  }

  #check(): void {
    if (this.unavailable) throw new Error('directory unavailable');
  }
}

/** Options of {@link createDirectoryReporter}. */
export interface DirectoryReporterOptions {
  nodeId: string;
  heartbeatMs: number;
  /** The node's state at the moment of each report. */
  current: () => NodeReport;
  logger: Logger;
}

/** A node's reporting to the directory. */
export interface DirectoryReporter {
  /** Reports now; concurrent callers share the request in flight, and one more report follows it. Never rejects. */
  report(): Promise<void>;
  /** Reports, then keeps reporting every `heartbeatMs`. */
  start(): Promise<void>;
  /** Stops reporting and deregisters (a failure to deregister is logged: the heartbeat expires anyway). */
  stop(): Promise<void>;
  /** At least one report was accepted. */
  readonly reported: boolean;
}

/** Creates the reporting policy of a node over `client`; see the module header. */
export function createDirectoryReporter(
  client: DirectoryClient,
  options: DirectoryReporterOptions,
): DirectoryReporter {
  const { nodeId, logger } = options;
  let reported = false;
  let stopped = false;
  let inFlight: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;

  function report(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (inFlight !== undefined) {
      again = true;
      return inFlight;
    }
    inFlight = client
      .report(nodeId, options.current())
      .then(() => {
        reported = true;
      })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'directory report failed'))
      .finally(() => {
        inFlight = undefined;
        if (again) {
          again = false;
          void report();
        }
      });
    return inFlight;
  }

  return {
    report,
    get reported() {
      return reported;
    },
    async start() {
      await report();
      timer = setInterval(() => void report(), options.heartbeatMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await client
        .deregister(nodeId)
        .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'deregistration failed'));
    },
  };
}
