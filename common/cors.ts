/**
 * Cross-origin access for browser pages (the web viewer) to the HTTP APIs they call: ingest (reactions) and the
 * directory (assignment). One allowlist of exact origins per service, read from `CORS_ORIGINS`
 * ({@link corsOriginsVar}); a request from a listed origin gets `Access-Control-Allow-Origin` echoed back, its
 * preflight (`OPTIONS` + `Access-Control-Request-Method`) is answered 204 here; a preflight from any other origin
 * is refused 403 with a problem+json saying which variable to extend. Requests without `Origin` (curl, services,
 * same-origin GETs) pass through untouched.
 *
 * Written on the raw node:http request/response, so ingest's hot routes (dispatched before express) and the
 * express apps use the same check.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod';
import { listVar } from './env.ts';
import { HttpProblem, writeProblem } from './problem.ts';

/** Port of the web viewer's server under `npm start` (its origin is in the default allowlist). */
export const WEB_DEFAULT_PORT = 8088;

/** The default allowlist: the web viewer's own origin as `npm start` serves it. */
export const DEFAULT_CORS_ORIGINS = [
  `http://127.0.0.1:${WEB_DEFAULT_PORT}`,
  `http://localhost:${WEB_DEFAULT_PORT}`,
] as const;

/** Most origins an allowlist holds (each is compared per request). */
const MAX_ORIGINS = 64;

/**
 * `CORS_ORIGINS`: comma list of exact origins (`scheme://host[:port]`, no path); unset → {@link DEFAULT_CORS_ORIGINS};
 * empty (`CORS_ORIGINS=`) → no cross-origin access.
 */
export const corsOriginsVar = z
  .string()
  .optional()
  .transform((s) => (s === undefined ? [...DEFAULT_CORS_ORIGINS] : listVar.parse(s)))
  .superRefine((origins, ctx) => {
    if (origins.length > MAX_ORIGINS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_ORIGINS} origins` });
    for (const origin of origins) {
      if (!isOrigin(origin)) {
        ctx.addIssue({
          code: 'custom',
          message: `${JSON.stringify(origin)} is not an origin: write scheme://host[:port], e.g. http://127.0.0.1:${WEB_DEFAULT_PORT}`,
        });
      }
    }
  });

/** True if `value` is exactly a serialised http(s) origin (what browsers send in `Origin`). */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** What {@link handleCors} allows. */
export interface CorsOptions {
  origins: readonly string[];
  /** Methods a preflight may ask for. @default ['GET', 'HEAD', 'POST'] */
  methods?: readonly string[];
  /** Request headers a preflight may ask for (lowercase). @default ['content-type'] */
  headers?: readonly string[];
}

/** A request handler step: true when it answered the request itself (a preflight), false to continue. */
export type CorsHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Builds the CORS step of a server; see the module comment. */
export function createCors(options: CorsOptions): CorsHandler {
  const allowed = new Set(options.origins);
  const methods = (options.methods ?? ['GET', 'HEAD', 'POST']).join(', ');
  const headers = (options.headers ?? ['content-type']).join(', ');
  return (req, res) => {
    const origin = req.headers.origin;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (origin === undefined) return false;
    // Caches must keep answers for different origins apart.
    res.setHeader('vary', 'Origin');
    if (!allowed.has(origin)) {
      if (!preflight) return false; // the browser withholds the answer: no allow header
      writeProblem(
        res,
        new HttpProblem({
          status: 403,
          slug: 'origin-not-allowed',
          title: 'Origin not allowed',
          detail: `${JSON.stringify(origin.slice(0, 200))} is not in this service's CORS_ORIGINS; add it there to call this API from that page`,
        }),
      );
      return true;
    }
    res.setHeader('access-control-allow-origin', origin);
    if (!preflight) return false;
    res.writeHead(204, {
      'access-control-allow-methods': methods,
      'access-control-allow-headers': headers,
      'access-control-max-age': '600',
      'content-length': '0',
    });
    res.end();
    return true;
  };
}
