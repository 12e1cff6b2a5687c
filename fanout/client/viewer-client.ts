/**
 * A viewer as apps implement it: asks the directory for a subscriber node, connects, joins its matches and keeps
 * the recent windows of each. When the connection is lost it asks the directory again (leaving out the node it
 * lost first), reconnects and joins again, which brings a fresh snapshot. Used by tests, the terminal client and
 * the load simulator.
 */
import { EventEmitter } from 'node:events';
import { io as connectClient, type Socket } from 'socket.io-client';
import type {
  Ack,
  NodeToViewerEvents,
  SnapshotMessage,
  SwarmMessage,
  ViewerAuth,
  ViewerToNodeEvents,
} from '../../common/socket-events.ts';
import { LatestWindows } from '../../common/window-state.ts';
import type { Assignment } from '../main-publisher/directory.ts';

/** Options of {@link createViewer}. */
export interface ViewerOptions {
  /** Base URL of the directory (the main publisher). */
  directoryUrl: string;
  matchIds: string[];
  token?: string;
  /** Windows kept per match. @default 30 */
  windowsPerMatch?: number;
  /** Give up reconnecting after this long without a node. @default 60000 */
  reconnectTimeoutMs?: number;
}

/** Events of a {@link Viewer}. */
export interface ViewerEvents {
  /** A join was answered with the match's recent windows. */
  snapshot: [SnapshotMessage];
  swarm: [SwarmMessage];
  /** Connected (again) to a node and joined every match. */
  connected: [Assignment];
  disconnected: [string];
  /** The node ended the session: the token expired (the message says so); no reconnect with that token. */
  expired: [string];
  error: [Error];
}

/** A connected viewer. */
export interface Viewer extends EventEmitter<ViewerEvents> {
  start(): Promise<void>;
  stop(): void;
  /** The node currently serving this viewer. */
  readonly assignment: Assignment | undefined;
  /** Latest state of each held window of a match, oldest first. */
  windows(matchId: string): SwarmMessage[];
  /** Number of `swarm` messages received (snapshots excluded). */
  readonly received: number;
}

async function assign(directoryUrl: string, matchId: string, exclude: string[]): Promise<Assignment> {
  const query = new URLSearchParams({ match_id: matchId });
  if (exclude.length > 0) query.set('exclude', exclude.join(','));
  const res = await fetch(`${directoryUrl}/v1/assign?${query}`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`directory answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Assignment;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates a viewer; it connects on `start()`. */
export function createViewer(options: ViewerOptions): Viewer {
  const emitter = new EventEmitter<ViewerEvents>();
  // The same rule and bound as the node's cache: a snapshot after a reconnect that overlaps what is held changes
  // nothing, and a late delivery of an older state never replaces a newer one.
  // Sized to the viewer's own matches: the map allocates its index up front, and a load run holds many viewers.
  const state = new LatestWindows<SwarmMessage>({
    windowsPerMatch: options.windowsPerMatch ?? 30,
    maxMatches: Math.max(1, options.matchIds.length),
  });
  let socket: Socket<NodeToViewerEvents, ViewerToNodeEvents> | undefined;
  let assignment: Assignment | undefined;
  let stopped = false;
  let received = 0;

  async function connectOnce(exclude: string[]): Promise<void> {
    const target = await assign(options.directoryUrl, options.matchIds[0] ?? '', exclude);
    const next: Socket<NodeToViewerEvents, ViewerToNodeEvents> = connectClient(target.url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: 5_000,
      auth: (options.token === undefined ? {} : { token: options.token }) satisfies ViewerAuth,
    });
    next.on('snapshot', (snapshot) => {
      for (const window of snapshot.windows) state.offer(window);
      emitter.emit('snapshot', snapshot);
    });
    next.on('session_expired', (reason) => {
      // Reconnecting with the same token would be refused: stop, and say why.
      stopped = true;
      emitter.emit('expired', reason.message);
    });
    next.on('swarm', (message) => {
      received++;
      state.offer(message);
      emitter.emit('swarm', message);
    });
    await new Promise<void>((resolve, reject) => {
      next.once('connect', () => resolve());
      next.once('connect_error', (err: Error & { data?: { message?: string } }) => {
        next.close();
        // The node's reason (e.g. "the token expired") rather than the bare code.
        reject(err.data?.message === undefined ? err : new Error(`${err.message}: ${err.data.message}`));
      });
    });
    try {
      for (const matchId of options.matchIds) {
        const answer: Ack = await next.timeout(5_000).emitWithAck('join', { match_id: matchId });
        if (!answer.ok) throw new Error(`join ${matchId} refused: ${answer.error.code}`);
      }
    } catch (err) {
      next.close();
      throw err;
    }
    socket = next;
    assignment = target;
    next.on('disconnect', (reason) => {
      emitter.emit('disconnected', reason);
      if (!stopped && reason !== 'io client disconnect') void reconnect(target.node_id);
    });
    emitter.emit('connected', target);
  }

  async function reconnect(lost: string): Promise<void> {
    const deadline = Date.now() + (options.reconnectTimeoutMs ?? 60_000);
    let delay = 100;
    while (!stopped && Date.now() < deadline) {
      try {
        await connectOnce([lost]);
        return;
      } catch {
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 2_000);
      }
    }
    if (!stopped) emitter.emit('error', new Error('could not reconnect to any subscriber node'));
  }

  // defineProperties, not Object.assign: the getters must stay live.
  return Object.defineProperties(emitter, {
    start: { value: () => connectOnce([]) },
    stop: {
      value: () => {
        stopped = true;
        socket?.close();
      },
    },
    assignment: { get: () => assignment },
    received: { get: () => received },
    windows: { value: (matchId: string) => state.windows(matchId) },
  }) as Viewer;
}
