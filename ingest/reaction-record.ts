/**
 * The record ingest writes to Kafka, mirroring `schemas/reaction.avsc` (the source of truth; `reaction-record.test.ts`
 * fails if the two drift apart). Timestamps are epoch milliseconds (Avro `timestamp-millis` longs).
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

/** Name of the schema file under `schemas/`. */
export const REACTION_SCHEMA = 'reaction';
