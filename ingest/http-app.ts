/**
 * The HTTP surface of ingest (express 5). The three reaction routes are the hot path: they read their body
 * themselves (see request-body.ts), write the answer directly, and are dispatched by exact path and method before
 * express sees the request — express's per-request work (prototype swaps, router walk, URL and query parsing)
 * measured as a large share of a small request's cost. Everything else (health, readiness, metrics, OpenAPI,
 * 405s for undeclared methods on known paths, 404s, error boundary) is plain express.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createCors } from '../common/cors.ts';
import type { Logger } from '../common/logger.ts';
import { type HttpProblem, methodNotAllowed, writeProblem } from '../common/problem.ts';
import { problems, toProblem } from './errors.ts';
import type { IngestMetrics } from './metrics.ts';
import type { IntakeAnswer, ReactionIntake } from './reaction-intake.ts';
import { readJsonBody } from './request-body.ts';
import type { RequestGate } from './request-gate.ts';

export interface HttpAppDeps {
  intake: ReactionIntake;
  metrics: IngestMetrics;
  logger: Logger;
  maxBodyBytes: number;
  maxBatchBodyBytes: number;
  /** True once shutdown began: every new request is answered 503. */
  isDraining: () => boolean;
  /** Readiness: 200 body when ready, else a reason. */
  readiness: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>;
  /** Origins of browser pages that may call this API (`CORS_ORIGINS`, see common/cors.ts). @default none */
  corsOrigins?: readonly string[];
  /** Checks before a reaction body is read (token in URL, address limit, bearer token). @default none */
  gate?: RequestGate;
}

const OPENAPI = readFileSync(new URL('./openapi.yaml', import.meta.url), 'utf8');
const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** `?durable=true|1` or header `Durable: true|1`: answer only after Kafka acknowledged the record. */
export function wantsDurable(url: string | undefined, header: string | string[] | undefined): boolean {
  if (header !== undefined) {
    const h = Array.isArray(header) ? header[0] : header;
    if (h === 'true' || h === '1') return true;
  }
  if (url === undefined) return false;
  const q = url.indexOf('?');
  if (q < 0) return false;
  const v = new URLSearchParams(url.slice(q + 1)).get('durable');
  return v === 'true' || v === '1' || v === '';
}

function writeAnswer(res: ServerResponse, answer: IntakeAnswer): void {
  res.writeHead(answer.status, JSON_HEADERS);
  res.end(answer.body);
}

/** The request listener of the ingest server: hot reaction routes first, express for the rest. */
export function createRequestListener(deps: HttpAppDeps): RequestListener {
  const { app, hot } = createHttpApp(deps);
  // Before the hot dispatch: a page's POST carries Origin and needs the allow header on its answer too.
  const cors = createCors({
    origins: deps.corsOrigins ?? [],
    headers: ['content-type', 'durable', 'authorization'],
  });
  return (req, res) => {
    if (cors(req, res)) return;
    if (req.method === 'POST') {
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const route = hot.get(q < 0 ? url : url.slice(0, q));
      if (route !== undefined) {
        route(req, res);
        return;
      }
    }
    app(req, res);
  };
}

type HotRoute = (req: IncomingMessage, res: ServerResponse) => void;

/** The express app (everything but the hot routes' POSTs) and the hot routes by exact path. */
export function createHttpApp(deps: HttpAppDeps): { app: express.Express; hot: Map<string, HotRoute> } {
  const { intake, metrics, logger, isDraining } = deps;
  const log = logger.child({ component: 'http' });
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  // Paths match exactly, as the hot dispatch does: `/V1/REACTIONS` or `/v1/reactions/` is an unknown path (404),
  // not a known one asked with the wrong method (405).
  app.enable('case sensitive routing');
  app.enable('strict routing');

  function refuse(res: ServerResponse, err: unknown): void {
    const problem = toProblem(err);
    if (problem.status >= 500 && problem.slug === 'internal') log.error({ err }, 'request failed');
    metrics.rejected(problem.slug);
    // 413 leaves an unread body on the connection; closing is cheaper than draining it.
    writeProblem(res, problem, problem.status === 413 || isDraining());
  }

  function reactionRoute(kind: 'emoji' | 'reactions' | 'batch') {
    const limit = kind === 'batch' ? deps.maxBatchBodyBytes : deps.maxBodyBytes;
    return (req: IncomingMessage, res: ServerResponse): void => {
      if (isDraining()) {
        refuse(res, problems.shuttingDown());
        return;
      }
      const durable = wantsDurable(req.url, req.headers.durable);
      const gate = deps.gate;
      (gate === undefined ? Promise.resolve(undefined) : gate(req))
        .then((subject) =>
          readJsonBody(req, limit).then((body) =>
            kind === 'batch'
              ? intake.batch(body, durable, subject)
              : intake.single(body, kind, durable, subject),
          ),
        )
        .then(
          (answer) => writeAnswer(res, answer),
          (err: unknown) => refuse(res, err),
        );
    };
  }

  const hot = new Map<string, HotRoute>([
    ['/emoji', reactionRoute('emoji')],
    ['/v1/reactions', reactionRoute('reactions')],
    ['/v1/reactions:batch', reactionRoute('batch')],
  ]);
  // A hot path asked with another method reaches express: it exists, so 405 rather than 404.
  const refused = (problem: HttpProblem): void => metrics.rejected(problem.slug);
  for (const path of hot.keys()) app.all(path.replace(':', '\\:'), methodNotAllowed(['POST'], refused));

  // Express answers HEAD with each GET route; every other method on these paths is 405.
  const getOnly = methodNotAllowed(['GET', 'HEAD'], refused);
  app
    .route('/health')
    .get((_req, res) => {
      res.writeHead(200, JSON_HEADERS);
      res.end('{"status":"ok"}');
    })
    .all(getOnly);
  app
    .route('/ready')
    .get((_req, res) => {
      deps.readiness().then(
        ({ ready, checks }) => {
          if (!ready) {
            // Not counted as a refused reaction: a probe was answered, no reaction was turned away.
            writeProblem(res, problems.notReady('Kafka, the registry or the buffer is not ready', checks));
            return;
          }
          res.writeHead(200, JSON_HEADERS);
          res.end(JSON.stringify({ status: 'ready', checks }));
        },
        (err: unknown) => refuse(res, err),
      );
    })
    .all(getOnly);
  app
    .route('/metrics')
    .get((_req, res) => {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => refuse(res, err),
      );
    })
    .all(getOnly);
  app
    .route('/openapi.yaml')
    .get((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/yaml; charset=utf-8' });
      res.end(OPENAPI);
    })
    .all(getOnly);

  app.use((req: Request, res: Response) => {
    refuse(res, problems.notFound(req.method, req.path));
  });
  // Express's error boundary (e.g. a malformed URL): still problem+json, never a stack trace.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      refuse(res, problems.badRequest((err as Error).message));
    } else {
      refuse(res, err);
    }
  });
  return { app, hot };
}
