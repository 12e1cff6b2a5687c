/**
 * The one errors module of ingest, and the one place that maps failures to HTTP: every refusal is a
 * {@link HttpProblem} written as the shared problem+json shape of `common/problem.ts` (stable `type`, and for bad
 * input every bad field in `errors`).
 */
import { ConfigError } from '../common/env.ts';
import { commonProblems, type FieldProblem, HttpProblem } from '../common/problem.ts';

export { ConfigError, HttpProblem };

/** Constructors of every problem ingest answers with. */
export const problems = {
  ...commonProblems,
  validation: (errors: readonly FieldProblem[]) => commonProblems.validation('Invalid reaction', errors),
  rateLimited: (retryAfterSec: number) =>
    new HttpProblem({
      status: 429,
      slug: 'rate-limited',
      title: 'Too many reactions',
      detail: `This user sends reactions faster than allowed; retry after ${retryAfterSec} s`,
      retryAfterSec,
    }),
  bufferFull: (retryAfterSec: number) =>
    new HttpProblem({
      status: 503,
      slug: 'buffer-full',
      title: 'Ingest is saturated',
      detail: `The send buffer towards Kafka is full; retry after ${retryAfterSec} s`,
      retryAfterSec,
    }),
  shuttingDown: () =>
    new HttpProblem({
      status: 503,
      slug: 'shutting-down',
      title: 'Shutting down',
      detail: 'This ingest instance is stopping',
      retryAfterSec: 1,
    }),
  notDelivered: (detail: string) =>
    new HttpProblem({
      status: 503,
      slug: 'not-delivered',
      title: 'Not stored',
      detail: `Kafka did not acknowledge the reaction: ${detail}`,
      retryAfterSec: 1,
    }),
  /**
   * 500, not 503 or 502: the broker refused this very record (too large, invalid), so sending it again fails the
   * same way (no Retry-After), and nothing went wrong in transit. The record is in ingest's dead letters.
   */
  reactionNotStored: (detail: string, extensions?: Record<string, unknown>) =>
    new HttpProblem({
      status: 500,
      slug: 'reaction-not-stored',
      title: 'Reaction refused by Kafka',
      detail: `${detail}; it is kept in ingest's dead letters, do not resend it unchanged`,
      extensions,
    }),
};

/** Any thrown value → the problem to answer with (unknown errors become a bare 500, never a stack trace). */
export function toProblem(err: unknown): HttpProblem {
  if (err instanceof HttpProblem) return err;
  return problems.internal();
}
