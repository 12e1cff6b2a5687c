/**
 * The viewer handshake check of a subscriber node: when the node is configured with a token, a viewer must send
 * it as `auth.token` ({@link ViewerAuth}); it is compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'socket.io';
import { type ViewerAuth, viewerAuthSchema } from '../../common/socket-events.ts';

function tokensEqual(expected: string, given: ViewerAuth['token']): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
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
