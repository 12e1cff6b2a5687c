/**
 * The web server of the stack: the viewer page (`/viewer`), the operator dashboard (`/dashboard`), their
 * bundled browser code (`/assets/*`, built by esbuild on first request, see bundle.ts) and the dashboard's data
 * (`GET /api/dashboard?since=<epoch ms>`). A server of its own rather than a route of the main publisher: the
 * dashboard reads every service's metrics and the Spark run directories, which the fan-out's directory has no
 * business knowing, and bundling stays off the fan-out's hot process.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createLogger, type Logger } from '../common/logger.ts';
import { commonProblems, HttpProblem, methodNotAllowed, writeProblem } from '../common/problem.ts';
import type { Service } from '../common/service.ts';
import { pageBundle } from './bundle.ts';
import type { WebConfig } from './config.ts';
import { createDashboardFeed, type DashboardFeed } from './dashboard-feed.ts';

/** What the viewer page is told about the stack (embedded in its HTML, so it needs no request to learn it). */
export interface ViewerPageConfig {
  ingestUrl: string;
  directoryUrl: string;
}

const PAGES = {
  viewer: readFileSync(new URL('./viewer/viewer.html', import.meta.url), 'utf8'),
  dashboard: readFileSync(new URL('./dashboard/dashboard.html', import.meta.url), 'utf8'),
};

/** JSON safe inside a `<script type="application/json">` element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** The running web server. */
export interface WebServer extends Service {
  start(): Promise<{ url: string }>;
  readonly url: string;
  readonly feed: DashboardFeed;
}

/** Creates the web server; nothing listens before `start()`. */
export function createWebServer(config: WebConfig, deps: { logger?: Logger } = {}): WebServer {
  const logger = deps.logger ?? createLogger('web');
  const feed = createDashboardFeed({
    targets: config.metricsTargets,
    sparkState: config.sparkState,
    scrapeMs: config.scrapeMs,
    historyPoints: config.historyPoints,
  });
  const pageConfig: ViewerPageConfig = { ingestUrl: config.ingestUrl, directoryUrl: config.directoryUrl };
  const security = {
    // The page talks to ingest and the directory over HTTP and to whichever node it is assigned over WebSocket.
    'content-security-policy':
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' http: https: ws: wss:; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  const app = express();
  app.disable('x-powered-by');
  const getOnly = methodNotAllowed(['GET', 'HEAD']);
  app.get('/', (_req, res) => res.redirect(302, '/viewer'));
  app
    .route('/viewer')
    .get((_req, res) => {
      res.set({ ...security, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.send(PAGES.viewer.replace('{"placeholder":"stack-config"}', scriptJson(pageConfig)));
    })
    .all(getOnly);
  app
    .route('/dashboard')
    .get((_req, res) => {
      res.set({ ...security, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.send(PAGES.dashboard);
    })
    .all(getOnly);
  app
    .route('/assets/:file')
    .get(async (req, res, next) => {
      try {
        const file = (await pageBundle()).get(req.params.file);
        if (file === undefined) {
          writeProblem(res, commonProblems.notFound(req.method, req.path));
          return;
        }
        res.set({ 'content-type': file.contentType, 'cache-control': 'no-cache', ...security });
        res.send(Buffer.from(file.body));
      } catch (err) {
        logger.error({ err }, 'page bundle failed');
        next(
          new HttpProblem({
            status: 500,
            slug: 'bundle-failed',
            title: 'The page bundle did not build',
            detail: `${(err as Error).message.slice(0, 2000)}\nFix the source and reload.`,
          }),
        );
      }
    })
    .all(getOnly);
  app
    .route('/api/dashboard')
    .get((req, res) => {
      const since = Number(req.query.since ?? 0);
      if (!Number.isFinite(since)) {
        writeProblem(res, commonProblems.badRequest('since must be epoch milliseconds, e.g. since=0'));
        return;
      }
      res.set('cache-control', 'no-store').json({ scrape_ms: config.scrapeMs, points: feed.since(since) });
    })
    .all(getOnly);
  app
    .route('/health')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(getOnly);
  app.use((req, res) => writeProblem(res, commonProblems.notFound(req.method, req.path)));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    writeProblem(res, err instanceof HttpProblem ? err : commonProblems.internal());
  });

  let server: Server | undefined;
  let url = '';
  let stopping: Promise<void> | undefined;
  return {
    feed,
    get url() {
      return url;
    },
    async start() {
      server = createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(config.port, config.host, () => resolve());
      });
      url = `http://${config.host}:${(server.address() as AddressInfo).port}`;
      feed.start();
      // Build the bundle now rather than on the first page view; a failure is logged and retried on request.
      pageBundle().catch((err: unknown) => logger.error({ err }, 'page bundle failed'));
      logger.info({ viewer: `${url}/viewer`, dashboard: `${url}/dashboard` }, 'web server listening');
      return { url };
    },
    stop() {
      stopping ??= (async () => {
        feed.stop();
        const s = server;
        if (s === undefined || !s.listening) return;
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeIdleConnections();
        });
      })();
      return stopping;
    },
  };
}
