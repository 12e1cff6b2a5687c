/**
 * The errors of the fan-out tiers, and the one place that maps them to HTTP answers
 * (`application/problem+json`, RFC 9457).
 */
import type { ErrorRequestHandler, Response } from 'express';

/** Base of every fan-out error; `retriable` says whether trying again later can succeed. */
export class FanoutError extends Error {
  override readonly name: string = 'FanoutError';
  readonly retriable: boolean;
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

/** Environment configuration is invalid; the message names every bad key. */
export class ConfigError extends FanoutError {
  override readonly name = 'ConfigError';
}

/** A request body or query failed validation. */
export class ValidationError extends FanoutError {
  override readonly name = 'ValidationError';
  constructor(
    message: string,
    readonly issues: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** The directory has no live subscriber node to offer. */
export class NoNodeAvailableError extends FanoutError {
  override readonly name = 'NoNodeAvailableError';
  constructor(message = 'no subscriber node is available') {
    super(message, { retriable: true });
  }
}

/** An asked-for resource does not exist. */
export class NotFoundError extends FanoutError {
  override readonly name = 'NotFoundError';
}

/** Writes a problem+json answer. */
export function sendProblem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  res
    .status(status)
    .type('application/problem+json')
    .json({ type: 'about:blank', title, status, detail, ...extra });
}

/** Express error handler of every fan-out HTTP server: known errors become 4xx/503, anything else 500. */
export const problemHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (err instanceof ValidationError) {
    sendProblem(res, 400, 'Bad Request', err.message, { issues: err.issues });
  } else if (err instanceof NotFoundError) {
    sendProblem(res, 404, 'Not Found', err.message);
  } else if (err instanceof NoNodeAvailableError) {
    res.setHeader('Retry-After', '1');
    sendProblem(res, 503, 'Service Unavailable', err.message);
  } else if (isBodyParserError(err)) {
    sendProblem(res, err.status, err.status === 413 ? 'Payload Too Large' : 'Bad Request', err.message);
  } else {
    sendProblem(res, 500, 'Internal Server Error', 'unexpected error');
  }
};

function isBodyParserError(err: unknown): err is { status: number; message: string } {
  if (typeof err !== 'object' || err === null) return false;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500;
}
