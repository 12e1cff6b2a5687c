/**
 * The main publisher's HTTP server: the directory routes (`directory-routes.ts`) over a {@link Directory}, plus
 * health, readiness and metrics. The main publisher runs it over its window store; the fan-out benchmark and the
 * Socket.IO tests run it alone (no Kafka), which is why it is a factory of its own.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createCors } from '../../common/cors.ts';
import type { SwarmMessage } from '../../common/socket-events.ts';
import {
  closeServer,
  createFanoutMetrics,
  createHttpApp,
  type FanoutMetrics,
  listen,
} from '../http-server.ts';
import { Directory } from './directory.ts';
import { type DirectoryRoutesOptions, mountDirectoryRoutes } from './directory-routes.ts';

/** Options of {@link createDirectoryServer}. */
export interface DirectoryServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** @default a new, empty directory */
  directory?: Directory;
  /** Recent windows of a match, oldest first, for the snapshot nodes fetch. @default none */
  snapshot?: (matchId: string) => SwarmMessage[];
  onReport?: DirectoryRoutesOptions['onReport'];
  /** @default metrics of role `directory` */
  metrics?: FanoutMetrics;
  /** What `/ready` answers. @default always ready */
  ready?: () => boolean;
  /** Origins of browser pages that may ask for an assignment (common/cors.ts). @default none */
  corsOrigins?: readonly string[];
}

/** A directory served over HTTP. */
export interface DirectoryServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Base URL, once started. */
  readonly url: string;
  readonly directory: Directory;
}

/** Creates the directory's HTTP server; nothing listens before `start()`. */
export function createDirectoryServer(options: DirectoryServerOptions): DirectoryServer {
  const directory = options.directory ?? new Directory();
  const metrics = options.metrics ?? createFanoutMetrics('directory', 'Unused by the directory alone.');
  const snapshot = options.snapshot ?? (() => []);
  let server: Server | undefined;
  let url = '';
  return {
    directory,
    get url() {
      return url;
    },
    async start() {
      const app = createHttpApp(metrics, options.ready ?? (() => true), (a) =>
        mountDirectoryRoutes(a, { directory, snapshot, onReport: options.onReport }),
      );
      const cors = createCors({ origins: options.corsOrigins ?? [], methods: ['GET', 'HEAD'] });
      const bound = await listen(
        (req: IncomingMessage, res: ServerResponse) => {
          if (!cors(req, res)) app(req, res);
        },
        options.host,
        options.port,
      );
      server = bound.server;
      url = `http://${options.host}:${bound.port}`;
    },
    async stop() {
      if (server !== undefined) await closeServer(server);
    },
  };
}
