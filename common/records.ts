/**
 * The records on EmoStream's Kafka topics, as TypeScript types mirroring the Avro schemas in `schemas/` (the source of
 * truth; `records.test.ts` fails if a type and its schema drift apart).
 */

/**
 * The record ingest writes to `emoji.reactions.v1` (`schemas/reaction.avsc`). Timestamps are epoch milliseconds
 * (Avro `timestamp-millis` longs).
 */
export interface ReactionRecord {
  /** Server-made uuid; consumers dedupe redelivered records on it. */
  event_id: string;
  match_id: string;
  user_id: string;
  /** Canonical (fully-qualified) emoji. */
  emoji: string;
  client_ts: number;
  /** Server clock at acceptance: the event time of every aggregation. */
  ingest_ts: number;
}

/** One row of `emoji.aggregates.v1` (`schemas/aggregate.avsc`), timestamps as epoch milliseconds. */
export interface AggregateRow {
  match_id: string;
  window_start: number;
  window_end: number;
  emoji: string;
  count: number;
  swarm: number;
  emitted_at: number;
}
