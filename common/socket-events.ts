/**
 * The Socket.IO events of EmoStream, typed once for servers and clients.
 *
 * Two hops use Socket.IO:
 * - viewer ⇄ subscriber node: {@link ViewerToNodeEvents} / {@link NodeToViewerEvents};
 * - subscriber node ⇄ cluster publisher: {@link NodeToPublisherEvents} / {@link PublisherToNodeEvents}.
 *
 * Payloads arriving from the network are `unknown` until validated with the zod schemas exported here; the event
 * maps describe what a well-behaved peer sends.
 */
import { z } from 'zod';
import { matchIdSchema, nodeIdSchema } from './ids.ts';
import type { SwarmWindow } from './records.ts';

/**
 * The Socket.IO room of a match, on subscriber nodes (viewers) and on cluster publishers (nodes). Payload match
 * ids are checked against the one id grammar (`common/ids.ts`), so a room name carries nothing but the id.
 */
export function matchRoom(matchId: string): string {
  return `match:${matchId}`;
}

/**
 * The state of one window of one match as it travels from the main publisher to the cluster publishers: the
 * record of `schemas/swarm-update.avsc`, generated into `records.ts` and named here too because it is the base of
 * the Socket.IO payloads below.
 */
export type { SwarmWindow };

/**
 * The client-ready message: one per (match, window) update. It carries the whole window state, so a client
 * replaces what it holds for `(match_id, window_start)`; repeats are harmless.
 */
export interface SwarmMessage extends SwarmWindow {
  /** When the cluster publisher emitted it to its subscriber nodes (latency measurements start here). */
  sent_at: number;
  /**
   * When the subscriber node broadcast it to its viewers. Absent from a node that predates it, and on the
   * publisher → node hop (the node stamps it).
   */
  relayed_at?: number;
}

/**
 * The hop stamps a message carries, of the newest update folded into it: the job's micro-batch start
 * (`emitted_at`), its sink's Kafka write (`aggregated_at`), the main publisher's route (`routed_at`), the cluster
 * publisher's emit (`sent_at`), the node's broadcast (`relayed_at`). Every tier stamps with its own clock, so they
 * compare only where the tiers share one (one machine, or synchronised clocks); the load simulator splits its
 * end-to-end latency with them (fanout/client/hop-trace.ts).
 */
export type SwarmTrace = Pick<
  SwarmMessage,
  'emitted_at' | 'aggregated_at' | 'routed_at' | 'sent_at' | 'relayed_at'
>;

/** Recent windows of a match, oldest first; sent on every join (so also after every reconnect). */
export interface SnapshotMessage {
  match_id: string;
  windows: SwarmMessage[];
}

/** Machine-readable reasons a request over a socket is refused. */
export type SocketErrorCode =
  | 'invalid_payload'
  | 'unknown_event'
  | 'too_many_rooms'
  | 'not_joined'
  | 'rate_limited'
  | 'unavailable'
  | 'forbidden';

/** Answer to `join` / `leave` (and to any refused event that came with an acknowledgement callback). */
export type Ack =
  | { ok: true; match_id: string; rooms: number }
  | { ok: false; error: { code: SocketErrorCode; message: string } };

/** Body of `join` and `leave`. */
export const roomRequestSchema = z.object({ match_id: matchIdSchema }).strict();
export type RoomRequest = z.infer<typeof roomRequestSchema>;

/** Events a viewer sends to its subscriber node. */
export interface ViewerToNodeEvents {
  join: (request: RoomRequest, ack: (answer: Ack) => void) => void;
  leave: (request: RoomRequest, ack: (answer: Ack) => void) => void;
}

/** Events a subscriber node sends to its viewers. */
export interface NodeToViewerEvents {
  snapshot: (snapshot: SnapshotMessage) => void;
  swarm: (message: SwarmMessage) => void;
  /** The viewer's token expired: the node disconnects right after; `message` is for the viewer. */
  session_expired: (reason: { code: 'token_expired'; message: string }) => void;
}

/**
 * Handshake `auth` of a viewer (the token is checked only when the node is configured with one). Socket.IO types
 * a handshake's `auth` as any object, so the node parses it with this schema rather than casting it.
 */
export const viewerAuthSchema = z.object({ token: z.string().max(4_096).optional() });
export type ViewerAuth = z.infer<typeof viewerAuthSchema>;

/** Body of `subscribe` / `unsubscribe` from a node to its cluster publisher. */
export const subscriptionRequestSchema = z.object({ match_ids: z.array(matchIdSchema).max(1000) }).strict();
export type SubscriptionRequest = z.infer<typeof subscriptionRequestSchema>;

/** Answer of the cluster publisher to `subscribe` / `unsubscribe`. */
export type SubscriptionAck =
  | { ok: true; rooms: number }
  | { ok: false; error: { code: SocketErrorCode; message: string } };

/** Events a subscriber node sends to its cluster publisher. */
export interface NodeToPublisherEvents {
  subscribe: (request: SubscriptionRequest, ack: (answer: SubscriptionAck) => void) => void;
  unsubscribe: (request: SubscriptionRequest, ack: (answer: SubscriptionAck) => void) => void;
}

/** Events a cluster publisher sends to its subscriber nodes. */
export interface PublisherToNodeEvents {
  swarm: (message: SwarmMessage) => void;
}

/**
 * Handshake `auth` of a subscriber node on its cluster publisher, parsed there with this schema. The publisher uses
 * `node_id` only to label its logs; the node id grammar is enforced where a node registers (the directory).
 */
export const nodeAuthSchema = z.object({
  node_id: nodeIdSchema,
  /** `FANOUT_LINK_SECRET`: required by a publisher configured with one. */
  link_secret: z.string().max(1024).optional(),
});
export type NodeAuth = z.infer<typeof nodeAuthSchema>;

/** Shape check of a {@link SwarmMessage} (what a node accepts from its publisher before relaying it). */
export const swarmMessageSchema = z.object({
  match_id: matchIdSchema,
  window_start: z.number().int(),
  window_end: z.number().int(),
  counts: z.record(z.string(), z.number().int().nonnegative()),
  swarm: z.record(z.string(), z.number().int().nonnegative()),
  emitted_at: z.number().int(),
  routed_at: z.number().int(),
  sent_at: z.number().int(),
  // Added later than the rest: optional, so messages of older publishers and nodes still pass.
  aggregated_at: z.number().int().nullable().default(null),
  relayed_at: z.number().int().optional(),
});
