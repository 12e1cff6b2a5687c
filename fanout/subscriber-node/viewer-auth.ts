/**
 * Who may talk to a subscriber node, checked before a viewer gets any room:
 *
 * - {@link createHandshakeGate} — Socket.IO's `allowRequest`, run by engine.io on a new session's first request,
 *   before any Socket.IO state exists: the `Origin` allowlist (`CORS_ORIGINS`, the same list as ingest's and the
 *   directory's CORS; a request without `Origin` is not a browser page and passes) and a token bucket per client
 *   address (`VIEWER_HANDSHAKE_RATE_LIMIT_PER_SEC`), so a flood of handshakes from one address is answered 403
 *   by engine.io without a session being made.
 * - {@link requireViewerToken} — the static shared `VIEWER_TOKEN` (compared in constant time).
 * - {@link viewerJwtAuth} — `VIEWER_AUTH=jwt`: `auth.token` is a JWT checked by the one verifier of
 *   `common/auth.ts`; its `matches` claim restricts the matches the viewer may join ({@link ViewerJwtAuth.mayJoin}),
 *   and at its expiry the node sends `session_expired` with the reason and disconnects the socket.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'socket.io';
import {
  KeysUnavailableError,
  TokenError,
  type TokenVerifier,
  type VerifiedToken,
} from '../../common/auth.ts';
import type { ClientAddressOf } from '../../common/client-address.ts';
import type { RateLimiter } from '../../common/rate-limiter.ts';
import { type ViewerAuth, viewerAuthSchema } from '../../common/socket-events.ts';

function tokensEqual(expected: string, given: ViewerAuth['token']): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** An error for Socket.IO's `next(err)`: the client's `connect_error` gets `message` and `data`. */
function handshakeError(code: string, message: string): Error {
  return Object.assign(new Error(code), { data: { code, message } });
}

/** A Socket.IO middleware refusing (`unauthorized`) a handshake without `token`; `onRefused` counts it. */
export function requireViewerToken(
  token: string,
  onRefused: () => void,
): (socket: Pick<Socket, 'handshake'>, next: (err?: Error) => void) => void {
  return (socket, next) => {
    const auth = viewerAuthSchema.safeParse(socket.handshake.auth);
    if (auth.success && tokensEqual(token, auth.data.token)) return next();
    onRefused();
    next(new Error('unauthorized'));
  };
}

/** Options of {@link createHandshakeGate}. */
export interface HandshakeGateOptions {
  /** Allowed `Origin`s; a handshake with another `Origin` is refused. */
  origins: readonly string[];
  /** Per client address (allows everything when its rate is 0). */
  limiter: RateLimiter;
  clientAddress: ClientAddressOf;
  /** Counts a refusal: `origin_not_allowed` or `handshake_rate_limited`. */
  onRefused: (code: 'origin_not_allowed' | 'handshake_rate_limited') => void;
}

/** Socket.IO's `allowRequest`; see the module header. */
export function createHandshakeGate(
  options: HandshakeGateOptions,
): (req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void) => void {
  const origins = new Set(options.origins);
  return (req, callback) => {
    const key = options.clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    // The bucket first: a flood with a forged Origin costs one map lookup.
    if (!options.limiter.take(key).ok) {
      options.onRefused('handshake_rate_limited');
      return callback('too many connections from this address; retry in a second', false);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      options.onRefused('origin_not_allowed');
      return callback('this page origin is not in the node CORS_ORIGINS', false);
    }
    callback(null, true);
  };
}

/** Longest a timer may be set for (setTimeout's limit is 2^31 − 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The JWT side of a node; see the module header. */
export interface ViewerJwtAuth {
  /** `io.use` middleware: verifies `auth.token`; refuses `unauthorized` with the reason in `data.message`. */
  middleware(socket: Socket, next: (err?: Error) => void): void;
  /** On connection: arms the expiry timer (cleared on disconnect). */
  onConnection(socket: Socket): void;
  /** Undefined if the viewer may join `matchId`, else why not. */
  mayJoin(socket: Socket, matchId: string): string | undefined;
}

/** Options of {@link viewerJwtAuth}. */
export interface ViewerJwtAuthOptions {
  verifier: TokenVerifier;
  /** Counts a refused handshake by reason, or `token_expired` when a socket is closed at expiry. */
  onRefused: (reason: string) => void;
  now?: () => number;
}

/** Builds the JWT check of viewers. */
export function viewerJwtAuth(options: ViewerJwtAuthOptions): ViewerJwtAuth {
  const now = options.now ?? Date.now;
  const viewers = new WeakMap<Socket, VerifiedToken>();
  return {
    middleware(socket, next) {
      const auth = viewerAuthSchema.safeParse(socket.handshake.auth);
      const token = auth.success ? auth.data.token : undefined;
      if (token === undefined || token === '') {
        options.onRefused(auth.success ? 'missing' : 'too_long');
        return next(
          handshakeError(
            'unauthorized',
            auth.success ? 'this node needs a token (auth.token)' : 'the token is too long',
          ),
        );
      }
      options.verifier.verify(token).then(
        (verified) => {
          viewers.set(socket, verified);
          next();
        },
        (err: unknown) => {
          if (err instanceof KeysUnavailableError) {
            // Not the viewer's fault: say so, so the client retries rather than asks for a new token.
            options.onRefused('keys_unavailable');
            return next(handshakeError('unavailable', `${err.message}; retry shortly`));
          }
          const reason = err instanceof TokenError ? err.reason : 'error';
          options.onRefused(reason);
          next(
            handshakeError(
              'unauthorized',
              err instanceof TokenError ? err.description : 'the token could not be checked',
            ),
          );
        },
      );
    },
    onConnection(socket) {
      const verified = viewers.get(socket);
      if (verified === undefined) return;
      const expire = () => {
        options.onRefused('token_expired');
        socket.emit('session_expired', {
          code: 'token_expired',
          message: 'your token expired; sign in again',
        });
        // After the event, in order: the viewer reads why before it sees the disconnect.
        socket.disconnect();
      };
      const ms = verified.expiresAt - now();
      if (ms <= 0) return expire();
      const timer = setTimeout(expire, Math.min(ms, MAX_TIMER_MS));
      timer.unref();
      socket.once('disconnect', () => clearTimeout(timer));
    },
    mayJoin(socket, matchId) {
      const allowed = viewers.get(socket)?.matches;
      if (allowed === undefined || allowed.has(matchId)) return undefined;
      return `your token does not allow match ${matchId}`;
    },
  };
}
