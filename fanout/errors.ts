/**
 * The errors of the fan-out tiers, and the one place that maps them to HTTP answers: the shared problem+json
 * shape of `common/problem.ts` (`urn:emostream:problem:<slug>`, bad fields in `errors`).
 */
import type { ErrorRequestHandler } from 'express';
import { ConfigError } from '../common/env.ts';
import { commonProblems, type FieldProblem, HttpProblem, writeProblem } from '../common/problem.ts';

export { ConfigError };

/** Base of every fan-out error; `retriable` says whether trying again later can succeed. */
export class FanoutError extends Error {
  override readonly name: string = 'FanoutError';
  readonly retriable: boolean;
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

/** A request's path, query or body failed validation; `errors` names every bad field. */
export class ValidationError extends FanoutError {
  override readonly name = 'ValidationError';
  constructor(
    /** What was invalid, as the problem's title, e.g. `Invalid node report`. */
    readonly title: string,
    readonly errors: readonly FieldProblem[],
  ) {
    super(`${title}: ${errors.map((e) => `${e.field || '(body)'} ${e.detail}`).join('; ')}`);
  }
}

/** The directory has no live subscriber node to offer. */
export class NoNodeAvailableError extends FanoutError {
  override readonly name = 'NoNodeAvailableError';
  constructor(message = 'no subscriber node is available') {
    super(message, { retriable: true });
  }
}

/** The directory holds as many nodes as it may; a new node can report once one expires. */
export class DirectoryFullError extends FanoutError {
  override readonly name = 'DirectoryFullError';
  constructor(message = 'the directory is full') {
    super(message, { retriable: true });
  }
}

/** An asked-for resource does not exist. */
export class NotFoundError extends FanoutError {
  override readonly name = 'NotFoundError';
}

/** The problems the fan-out HTTP surfaces answer with, beyond the common ones. */
export const problems = {
  ...commonProblems,
  noNodeAvailable: (detail: string) =>
    new HttpProblem({
      status: 503,
      slug: 'no-node-available',
      title: 'No subscriber node available',
      detail,
      retryAfterSec: 1,
    }),
  directoryFull: (detail: string) =>
    new HttpProblem({
      status: 503,
      slug: 'directory-full',
      title: 'Directory full',
      detail,
      retryAfterSec: 5,
    }),
  resourceNotFound: (detail: string) =>
    new HttpProblem({ status: 404, slug: 'not-found', title: 'Not found', detail }),
};

/** Any thrown value → the problem to answer with; unknown errors become a bare 500, never a stack trace. */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  if (err instanceof ValidationError) return commonProblems.validation(err.title, err.errors);
  if (err instanceof NotFoundError) return problems.resourceNotFound(err.message);
  if (err instanceof NoNodeAvailableError) return problems.noNodeAvailable(err.message);
  if (err instanceof DirectoryFullError) return problems.directoryFull(err.message);
  const parser = bodyParserError(err);
  if (parser !== undefined) {
    if (parser.status === 413) return problems.payloadTooLarge(parser.limit ?? 'allowed');
    if (parser.type === 'entity.parse.failed') return problems.malformedJson(parser.message.slice(0, 200));
    if (parser.type === 'charset.unsupported' || parser.type === 'encoding.unsupported')
      return problems.unsupportedMediaType(parser.message);
    return problems.badRequest(parser.message);
  }
  return problems.internal();
}

/** Express error handler of every fan-out HTTP server. */
export const problemHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  writeProblem(res, toProblem(err));
};

/** The errors express's body parser (and express itself, e.g. for a malformed URL) throw: a 4xx `status`. */
function bodyParserError(
  err: unknown,
): { status: number; message: string; type?: string; limit?: number } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const status = (err as { status?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status >= 500) return undefined;
  return err as { status: number; message: string; type?: string; limit?: number };
}
