/**
 * The slow-viewer policy of a subscriber node, and the ONLY file that reads engine.io internals.
 *
 * Writes to each viewer are independent, so a slow viewer never delays the others; what it can cost is memory
 * (its queue) and, if it were sent plain emits for ever, an unbounded backlog. Sampled every second:
 * - a viewer with data queued (its connection is not keeping up) is marked slow; the node then sends it volatile
 *   emits, so an update it cannot take right now is dropped rather than queued (the next one carries the full
 *   window). It is unmarked once drained. Healthy viewers keep plain emits, because a volatile emit is also
 *   dropped for a healthy socket while its previous write is in flight (two windows in one tick).
 * - a viewer whose transport could not take a write for `slowViewerMs` (a healthy socket is unwritable only while
 *   a write is in flight), or with more than the byte or packet bound queued, is disconnected.
 */
import type { Socket } from 'socket.io';

/** The part of a node's viewer socket the policy uses. */
export type PolicedSocket = Pick<Socket, 'conn' | 'disconnect'> & { data: SlowViewerState };

/** Bytes queued in the kernel-bound WebSocket buffer, or packets in engine.io, from which a viewer counts as slow. */
const SLOW_BYTES = 64 * 1024;
const SLOW_PACKETS = 16;
/** Packets queued in engine.io for one viewer before it is disconnected. */
const MAX_QUEUED_PACKETS = 256;

/** Per-viewer state the policy keeps (in the socket's `data`). */
export interface SlowViewerState {
  /** When the viewer was first seen with data queued, 0 while it keeps up. */
  stalledSince: number;
  /** Marked slow: the node sends it volatile emits. */
  slow: boolean;
}

/** Limits and actions of {@link sweepSlowViewers}. */
export interface SlowViewerPolicy<S extends PolicedSocket> {
  /** Unwritable for longer than this: disconnected. */
  slowViewerMs: number;
  /** More bytes than this queued: disconnected. */
  maxViewerBufferBytes: number;
  /** Called when a viewer is marked slow or recovers (the node moves it between its rooms). */
  setSlow(socket: S, slow: boolean): void;
  /** Called after a viewer was disconnected. */
  onDropped(socket: S, backlog: Backlog): void;
}

/** What is queued for a viewer. */
export interface Backlog {
  writable: boolean;
  /** Bytes in the WebSocket's send buffer. */
  buffered: number;
  /** Packets in engine.io's write buffer. */
  queued: number;
}

interface EngineTransport {
  writable: boolean;
  socket?: { bufferedAmount?: number; terminate?: () => void };
}

// engine.io keeps the packet queue private and exposes no bufferedAmount: both are read structurally.
function transportOf(socket: PolicedSocket): EngineTransport {
  return (socket.conn as unknown as { transport: EngineTransport }).transport;
}

/** What is queued for a viewer right now. */
export function backlogOf(socket: PolicedSocket): Backlog {
  const transport = transportOf(socket);
  return {
    writable: transport.writable,
    buffered: transport.socket?.bufferedAmount ?? 0,
    queued: (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length,
  };
}

/** One sample of every viewer: marks, unmarks and disconnects as the module header says. */
export function sweepSlowViewers<S extends PolicedSocket>(
  sockets: Iterable<S>,
  policy: SlowViewerPolicy<S>,
  now = Date.now(),
): void {
  for (const socket of sockets) {
    const backlog = backlogOf(socket);
    const state = socket.data;
    if (backlog.writable && backlog.buffered === 0 && backlog.queued === 0) {
      state.stalledSince = 0;
      if (state.slow) policy.setSlow(socket, false);
      continue;
    }
    if (!state.slow && (backlog.buffered > SLOW_BYTES || backlog.queued > SLOW_PACKETS))
      policy.setSlow(socket, true);
    if (state.stalledSince === 0) state.stalledSince = now;
    const tooMuch = backlog.buffered > policy.maxViewerBufferBytes || backlog.queued > MAX_QUEUED_PACKETS;
    if (tooMuch || now - state.stalledSince > policy.slowViewerMs) {
      socket.disconnect(true);
      // A peer that does not read will not answer the close handshake either: free the connection now.
      transportOf(socket).socket?.terminate?.();
      policy.onDropped(socket, backlog);
    }
  }
}
