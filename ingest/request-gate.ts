/**
 * What a reaction request passes before its body is read, cheapest first: no token in the URL, the client
 * address's bucket (`INGEST_ADDRESS_RATE_LIMIT_PER_SEC`, keyed as `common/client-address.ts` says), then, with
 * `INGEST_AUTH=jwt`, the bearer token (common/auth.ts). Resolves with the token's subject (undefined with auth
 * off); refusals are thrown as HttpProblem (400, 429, 401; 503 when the JWKS cannot be fetched). The token is never logged nor echoed.
 */
import type { IncomingMessage } from 'node:http';
import { KeysUnavailableError, MAX_TOKEN_LENGTH, TokenError, type TokenVerifier } from '../common/auth.ts';
import type { ClientAddressOf } from '../common/client-address.ts';
import type { RateLimiter } from '../common/rate-limiter.ts';
import { problems } from './errors.ts';
import type { IngestMetrics } from './metrics.ts';

/** Query parameters that would carry a credential (compared lower-case). */
const TOKEN_PARAMS = new Set(['access_token', 'token', 'jwt', 'id_token', 'auth', 'authorization', 'bearer']);
/** A value shaped like a compact JWS (`eyJ…` header, three parts), whatever its parameter is called. */
const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/;

/** True if the URL's query string carries what looks like a token. */
export function hasTokenInQuery(url: string | undefined): boolean {
  if (url === undefined) return false;
  const q = url.indexOf('?');
  if (q < 0) return false;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(url.slice(q + 1));
  } catch {
    return false;
  }
  for (const [name, value] of params) {
    if (TOKEN_PARAMS.has(name.toLowerCase()) || JWT_SHAPE.test(value)) return true;
  }
  return false;
}

export interface RequestGateDeps {
  /** Undefined with auth off. */
  verifier?: TokenVerifier;
  addressLimiter: RateLimiter;
  clientAddress: ClientAddressOf;
  metrics: IngestMetrics;
}

/** `Authorization` header longer than this is refused unparsed ("Bearer " + the longest token). */
const MAX_AUTHORIZATION_LENGTH = MAX_TOKEN_LENGTH + 7;

/** The pre-body checks of a reaction request; see the module header. */
export type RequestGate = (req: IncomingMessage) => Promise<string | undefined>;

export function createRequestGate(deps: RequestGateDeps): RequestGate {
  const { verifier, addressLimiter, clientAddress, metrics } = deps;
  const refuseToken = (err: TokenError): never => {
    metrics.authRefused(err.reason);
    throw problems.unauthorized(err);
  };
  return async (req) => {
    if (hasTokenInQuery(req.url)) {
      metrics.authRefused('token_in_query');
      throw problems.tokenInQuery();
    }
    const rate = addressLimiter.take(clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']));
    if (!rate.ok) {
      metrics.limited('address');
      throw problems.rateLimited(rate.retryAfterSec, 'address');
    }
    if (verifier === undefined) return undefined;
    const header = req.headers.authorization;
    if (header === undefined || header === '')
      return refuseToken(new TokenError('invalid_request', 'missing', 'no token'));
    if (header.length > MAX_AUTHORIZATION_LENGTH)
      return refuseToken(
        new TokenError(
          'invalid_token',
          'too_long',
          `the token is longer than ${MAX_TOKEN_LENGTH} characters`,
        ),
      );
    const match = /^Bearer +([^\s]+) *$/i.exec(header);
    if (match === null)
      return refuseToken(
        new TokenError('invalid_request', 'scheme', 'the Authorization header must be Bearer <token>'),
      );
    try {
      return (await verifier.verify(match[1] as string)).subject;
    } catch (err) {
      if (err instanceof TokenError) return refuseToken(err);
      if (err instanceof KeysUnavailableError) {
        metrics.authRefused('keys_unavailable');
        throw problems.keysUnavailable(err.retryAfterSec);
      }
      throw err;
    }
  };
}
