/**
 * The one error body of every EmoStream HTTP surface (ingest, the fan-out directory, the health and metrics
 * servers of every tier): RFC 9457 `application/problem+json` with
 *
 * - `type`: `urn:emostream:problem:<slug>`, stable and machine-readable (the slug also labels refusal metrics);
 * - `title`, `status`, `detail`: as RFC 9457;
 * - `errors`: for bad input, every bad field once, `{ field, code, detail }`;
 * - `retry_after`: seconds, beside the `Retry-After` header of 429/503;
 * - extension members (RFC 9457 §3.2) where a problem has more to say, e.g. `checks` of a 503 from `/ready`.
 *
 * The OpenAPI specs (`ingest/openapi.yaml`, `fanout/main-publisher/openapi.yaml`) describe this shape as
 * `Problem`. Services keep their own errors and map them to a {@link HttpProblem} in one place each.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type * as z from 'zod';

/** Media type of every error body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Prefix of every problem `type`; the slug follows. */
export const PROBLEM_TYPE_PREFIX = 'urn:emostream:problem:';

/** One bad field of a request. */
export interface FieldProblem {
  /** Path of the field, e.g. `emoji` or `reactions[3].user_id`; empty for the body itself. */
  field: string;
  /** Stable machine-readable reason, e.g. `required`, `unknown_field`, `invalid_characters`. */
  code: string;
  /** Human-readable explanation. */
  detail: string;
  /** For `unknown_short_name`: the nearest known names, best first (may be empty). */
  suggestions?: string[];
}

/** The JSON document of a problem. */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: readonly FieldProblem[];
  retry_after?: number;
  [extension: string]: unknown;
}

/** What a {@link HttpProblem} is made of. */
export interface ProblemInit {
  /** HTTP status. */
  status: number;
  /** Last part of the problem type URN, e.g. `validation`. */
  slug: string;
  title: string;
  detail: string;
  /** Every bad field, for bad input. */
  errors?: readonly FieldProblem[];
  /** Seconds for the Retry-After header (and `retry_after`) of 429/503. */
  retryAfterSec?: number;
  /** Methods the path does serve, for the `Allow` header of a 405. */
  allow?: readonly string[];
  /** Extension members of the document (RFC 9457 §3.2); they cannot override the standard ones. */
  extensions?: Readonly<Record<string, unknown>>;
  /** Extra response headers, e.g. `WWW-Authenticate` of a 401 (lowercase names). */
  headers?: Readonly<Record<string, string>>;
}

/** A refusal, ready to be written as problem+json. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: readonly FieldProblem[] | undefined;
  readonly retryAfterSec: number | undefined;
  readonly allow: readonly string[] | undefined;
  readonly extensions: Readonly<Record<string, unknown>> | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(init: ProblemInit) {
    super(init.detail);
    this.status = init.status;
    this.slug = init.slug;
    this.title = init.title;
    this.detail = init.detail;
    this.errors = init.errors;
    this.retryAfterSec = init.retryAfterSec;
    this.allow = init.allow;
    this.extensions = init.extensions;
    this.headers = init.headers;
  }

  /** The problem+json document. */
  toJSON(): ProblemDocument {
    const body: ProblemDocument = {
      ...this.extensions,
      type: `${PROBLEM_TYPE_PREFIX}${this.slug}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
    };
    if (this.errors !== undefined) body.errors = this.errors;
    if (this.retryAfterSec !== undefined) body.retry_after = this.retryAfterSec;
    return body;
  }
}

/** The problems every HTTP surface can answer with, whatever its routes. */
export const commonProblems = {
  /** 400 naming every bad field. */
  validation: (title: string, errors: readonly FieldProblem[]) =>
    new HttpProblem({
      status: 400,
      slug: 'validation',
      title,
      detail: `${errors.length} field${errors.length === 1 ? ' is' : 's are'} invalid: ${errors
        .slice(0, 10)
        .map((e) => e.field || '(body)')
        .join(', ')}`,
      errors,
    }),
  malformedJson: (detail: string) =>
    new HttpProblem({
      status: 400,
      slug: 'malformed-json',
      title: 'Malformed JSON',
      detail: `The body is not valid JSON: ${detail}`,
      errors: [{ field: '', code: 'malformed_json', detail }],
    }),
  /** 400 for a request that is bad before any field is read (e.g. a malformed URL). */
  badRequest: (detail: string) =>
    new HttpProblem({ status: 400, slug: 'bad-request', title: 'Bad request', detail: detail.slice(0, 200) }),
  unsupportedMediaType: (got: string | undefined) =>
    new HttpProblem({
      status: 415,
      slug: 'unsupported-media-type',
      title: 'Unsupported media type',
      detail: `Content-Type must be application/json (charset utf-8), got ${got === undefined ? 'none' : JSON.stringify(got.slice(0, 100))}`,
    }),
  payloadTooLarge: (limit: number | string) =>
    new HttpProblem({
      status: 413,
      slug: 'payload-too-large',
      title: 'Payload too large',
      detail: `The body exceeds the limit of ${limit} bytes`,
    }),
  notFound: (method: string, path: string) =>
    new HttpProblem({
      status: 404,
      slug: 'not-found',
      title: 'Not found',
      detail: `No route for ${method} ${path.slice(0, 200)}`,
    }),
  /** 405: the path exists, the method is not one it serves; `allow` goes to the `Allow` header. */
  methodNotAllowed: (method: string, path: string, allow: readonly string[]) =>
    new HttpProblem({
      status: 405,
      slug: 'method-not-allowed',
      title: 'Method not allowed',
      detail: `${method.slice(0, 20)} is not served on ${path.slice(0, 200)}; allowed: ${allow.join(', ')}`,
      allow,
    }),
  /** 503 from `/ready`; `checks` says which dependency is not there. */
  notReady: (detail: string, checks?: Readonly<Record<string, unknown>>) =>
    new HttpProblem({
      status: 503,
      slug: 'not-ready',
      title: 'Not ready',
      detail,
      retryAfterSec: 1,
      ...(checks === undefined ? {} : { extensions: { checks } }),
    }),
  /** A bare 500: never a stack trace or an internal message. */
  internal: () =>
    new HttpProblem({
      status: 500,
      slug: 'internal',
      title: 'Internal error',
      detail: 'The request could not be processed',
    }),
};

/**
 * Writes a problem+json answer, with `Retry-After` and `Allow` when the problem has them. If the headers are
 * already out, the answer cannot be made coherent, so the connection is destroyed instead.
 */
export function writeProblem(res: ServerResponse, problem: HttpProblem, closeConnection = false): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string> = { ...problem.headers, 'content-type': PROBLEM_CONTENT_TYPE };
  if (problem.retryAfterSec !== undefined) headers['retry-after'] = String(problem.retryAfterSec);
  if (problem.allow !== undefined) headers.allow = problem.allow.join(', ');
  if (closeConnection) headers.connection = 'close';
  try {
    res.writeHead(problem.status, headers);
  } catch {
    // A header value node:http refuses (a bug of the caller): never an unanswered request or a crash.
    res.destroy();
    return;
  }
  res.end(JSON.stringify(problem));
}

/**
 * A request handler answering 405 with `Allow: <allow>`: mount it after a path's declared methods (express:
 * `app.route(path).get(…).all(methodNotAllowed(['GET', 'HEAD']))`) so an undeclared method is told apart from
 * an unknown path. `onProblem` lets the caller count or log the refusal before it is written.
 */
export function methodNotAllowed(
  allow: readonly string[],
  onProblem: (problem: HttpProblem) => void = () => {},
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    const problem = commonProblems.methodNotAllowed(req.method ?? '', path, allow);
    onProblem(problem);
    writeProblem(res, problem);
  };
}

function joinPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/**
 * zod issues → one {@link FieldProblem} per field (the first, most basic issue wins), with stable codes. A
 * custom issue names its code in `params.code`. Parse with `{ reportInput: true }` so a present-but-wrong field
 * (`wrong_type`) is told from a missing one (`required`).
 */
export function fieldProblems(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldProblem[] {
  const out: FieldProblem[] = [];
  const seen = new Set<string>();
  const push = (field: string, code: string, detail: string, suggestions?: string[]): void => {
    if (seen.has(field)) return;
    seen.add(field);
    out.push(suggestions === undefined ? { field, code, detail } : { field, code, detail, suggestions });
  };
  for (const issue of issues) {
    const field = joinPath(prefix, issue.path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) push(joinPath(field, [key]), 'unknown_field', 'is not a known field');
        break;
      case 'invalid_type':
        if (issue.input === undefined) push(field, 'required', 'is required');
        else push(field, 'wrong_type', issue.message);
        break;
      case 'too_big':
        if (issue.origin === 'array')
          push(field, 'too_many_items', `must hold at most ${issue.maximum} items`);
        else if (issue.origin === 'string')
          push(field, 'too_long', `must be at most ${issue.maximum} characters`);
        else push(field, 'out_of_range', `must be at most ${issue.maximum}`);
        break;
      case 'too_small':
        if (issue.origin === 'array')
          push(field, 'too_few_items', `must hold at least ${issue.minimum} item`);
        else if (issue.origin === 'string') push(field, 'empty', 'must not be empty');
        else push(field, 'out_of_range', `must be at least ${issue.minimum}`);
        break;
      case 'invalid_format':
        // Patterns in request schemas are character rules (ids); their message says which characters.
        if (issue.format === 'regex') push(field, 'invalid_characters', issue.message);
        else push(field, 'invalid_format', issue.message);
        break;
      case 'custom': {
        const params = issue.params as { code?: string; suggestions?: string[] } | undefined;
        push(field, params?.code ?? 'invalid', issue.message, params?.suggestions);
        break;
      }
      default:
        push(field, 'invalid', issue.message);
    }
  }
  return out;
}
