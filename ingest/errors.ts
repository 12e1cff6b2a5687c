/**
 * The one errors module of ingest, and the one place that maps failures to HTTP: every refusal is a
 * {@link HttpProblem} written as the shared problem+json shape of `common/problem.ts` (stable `type`, and for bad
 * input every bad field in `errors`).
 */
import { type TokenError, wwwAuthenticate } from '../common/auth.ts';
import { ConfigError } from '../common/env.ts';
import { commonProblems, type FieldProblem, HttpProblem } from '../common/problem.ts';

export { ConfigError, HttpProblem };

/** The rate limiters of ingest, as metric label and in the 429's `limiter` member. */
export type Limiter = 'user' | 'subject' | 'address' | 'match';

const LIMITER_WHO: Record<Limiter, string> = {
  user: 'This user sends reactions',
  subject: "This token's user sends reactions",
  address: 'This client address sends requests',
  match: 'This match receives reactions',
};

/** Constructors of every problem ingest answers with. */
export const problems = {
  ...commonProblems,
  validation: (errors: readonly FieldProblem[]) => commonProblems.validation('Invalid reaction', errors),
  /** 429 of one limiter (`user`: body user id with auth off, `subject`, `address`, `match`). */
  rateLimited: (retryAfterSec: number, limiter: Limiter = 'user') =>
    new HttpProblem({
      status: 429,
      slug: 'rate-limited',
      title: 'Too many reactions',
      detail: `${LIMITER_WHO[limiter]} faster than allowed; retry after ${retryAfterSec} s`,
      retryAfterSec,
      extensions: { limiter },
    }),
  /** 401 with `WWW-Authenticate: Bearer …` (RFC 6750); the detail never holds the token. */
  unauthorized: (err: TokenError) =>
    new HttpProblem({
      status: 401,
      slug: 'unauthorized',
      title: 'Not authenticated',
      detail:
        err.reason === 'missing'
          ? 'This API needs Authorization: Bearer <token> (npm run token mints one for the local secret)'
          : `The bearer token is refused: ${err.description}`,
      headers: { 'www-authenticate': wwwAuthenticate(err) },
    }),
  /** 400: a token in the URL would end up in proxy and access logs. */
  tokenInQuery: () =>
    new HttpProblem({
      status: 400,
      slug: 'token-in-query',
      title: 'Token in the URL',
      detail: 'Tokens are not accepted in the query string; send Authorization: Bearer <token>',
      headers: { 'www-authenticate': 'Bearer realm="emostream", error="invalid_request"' },
    }),
  /** 403: the body names another user than the token's subject. */
  wrongUser: (field: string) =>
    new HttpProblem({
      status: 403,
      slug: 'user-mismatch',
      title: 'Not your user id',
      detail: `${field} differs from the token's subject; a token may only react as its own user`,
      errors: [{ field, code: 'user_mismatch', detail: "differs from the token's subject" }],
    }),
  /** 503: the JWKS could not be fetched; the token was not judged (not a 401). */
  keysUnavailable: (retryAfterSec: number) =>
    new HttpProblem({
      status: 503,
      slug: 'keys-unavailable',
      title: 'Token keys unavailable',
      detail: `The keys that verify tokens could not be fetched; retry after ${retryAfterSec} s`,
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
