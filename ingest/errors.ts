/**
 * The one errors module of ingest, and the one place that maps failures to HTTP: every refusal is an RFC 9457
 * `application/problem+json` body with a stable `type`, and, for bad input, every bad field in `errors`.
 */
import type { FieldProblem } from './reaction-validator.ts';

/** Media type of every error body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** A refusal, ready to be written as problem+json. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Last part of the problem type URN, e.g. `validation`; also the `reason` label of the rejected metric. */
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly errors?: readonly FieldProblem[],
    /** Seconds for the Retry-After header of 429/503. */
    readonly retryAfterSec?: number,
  ) {
    super(detail);
  }

  /** The problem+json document. */
  toJSON(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      type: `urn:emostream:problem:${this.slug}`,
      title: this.title,
      status: this.status,
      detail: this.detail,
    };
    if (this.errors !== undefined) body.errors = this.errors;
    if (this.retryAfterSec !== undefined) body.retry_after = this.retryAfterSec;
    return body;
  }
}

/** Constructors of every problem ingest answers with. */
export const problems = {
  validation: (errors: readonly FieldProblem[]) =>
    new HttpProblem(
      400,
      'validation',
      'Invalid reaction',
      `${errors.length} field${errors.length === 1 ? ' is' : 's are'} invalid: ${errors
        .slice(0, 10)
        .map((e) => e.field || '(body)')
        .join(', ')}`,
      errors,
    ),
  malformedJson: (detail: string) =>
    new HttpProblem(400, 'malformed-json', 'Malformed JSON', `The body is not valid JSON: ${detail}`, [
      { field: '', code: 'malformed_json', detail },
    ]),
  unsupportedMediaType: (got: string | undefined) =>
    new HttpProblem(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `Content-Type must be application/json (charset utf-8), got ${got === undefined ? 'none' : JSON.stringify(got.slice(0, 100))}`,
    ),
  payloadTooLarge: (limit: number) =>
    new HttpProblem(
      413,
      'payload-too-large',
      'Payload too large',
      `The body exceeds the limit of ${limit} bytes`,
    ),
  rateLimited: (retryAfterSec: number) =>
    new HttpProblem(
      429,
      'rate-limited',
      'Too many reactions',
      `This user sends reactions faster than allowed; retry after ${retryAfterSec} s`,
      undefined,
      retryAfterSec,
    ),
  bufferFull: (retryAfterSec: number) =>
    new HttpProblem(
      503,
      'buffer-full',
      'Ingest is saturated',
      `The send buffer towards Kafka is full; retry after ${retryAfterSec} s`,
      undefined,
      retryAfterSec,
    ),
  shuttingDown: () =>
    new HttpProblem(503, 'shutting-down', 'Shutting down', 'This ingest instance is stopping', undefined, 1),
  notDelivered: (detail: string) =>
    new HttpProblem(
      503,
      'not-delivered',
      'Not stored',
      `Kafka did not acknowledge the reaction: ${detail}`,
      undefined,
      1,
    ),
  notFound: (method: string, path: string) =>
    new HttpProblem(404, 'not-found', 'Not found', `No route for ${method} ${path.slice(0, 200)}`),
  internal: () => new HttpProblem(500, 'internal', 'Internal error', 'The request could not be processed'),
};

/** Any thrown value → the problem to answer with (unknown errors become a bare 500, never a stack trace). */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  return problems.internal();
}

/** Configuration from the environment is invalid; names every bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly string[]) {
    super(`invalid ingest configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}
