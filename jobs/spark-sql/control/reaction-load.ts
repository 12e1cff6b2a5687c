/**
 * Synthetic reaction load for bench:spark, cheap enough per record that the bench measures Spark rather than itself.
 *
 * A reaction's Avro body is the concatenation of its fields' encodings, so every field that takes few values (match,
 * user, emoji) is encoded once up front and a record is a handful of byte copies into one buffer per batch:
 * - event_id: a random per-run UUID prefix and a 12-hex-digit counter written in place (unique within the run);
 * - client_ts / ingest_ts: encoded once per batch from the batch's clock reading (the event time, so current);
 * - key: the user id's UTF-8 bytes, with its partition (Java-compatible murmur2) computed once per user.
 * Records come out grouped per partition with the partition set, so kafkajs neither hashes keys nor has to regroup
 * one large mixed batch (its grouping copies a partition's list once per message added to it).
 */
import { randomUUID } from 'node:crypto';
import type avro from 'avsc';
import type { AvroSerde } from '../../../common/avro-serde.ts';
import { keyPartition } from '../../../common/murmur2.ts';
import type { ReactionRecord } from '../../../common/records.ts';

/** A keyed record bound for one partition, as kafkajs takes it. */
export interface PartitionedMessage {
  key: Buffer;
  value: Buffer;
  partition: number;
}

/** Options of {@link createReactionLoad}. */
export interface ReactionLoadOptions {
  /** Partitions of the reactions topic. */
  partitions: number;
  matches: readonly string[];
  emojis: readonly string[];
  /** Distinct users `u0 … u<users-1>`. @default 100000 */
  users?: number;
}

/** Makes batches of reactions; record `i` of the run is user `u<i % users>` on `matches[i % matches]`. */
export interface ReactionLoad {
  /**
   * The next `count` reactions, all stamped `now` (client_ts and ingest_ts), grouped by partition: entry `p` holds
   * the records of partition `p`. Record `i` of the run taps `emojis[(i >> 3) % emojis]`.
   */
  next(count: number, now: number): PartitionedMessage[][];
  /** One reaction of `match` keyed by the match (a latency probe on its own match), stamped `now`. */
  single(record: Omit<ReactionRecord, 'event_id'>, key: string): PartitionedMessage;
}

const FIELD_ORDER = ['event_id', 'match_id', 'user_id', 'emoji', 'client_ts', 'ingest_ts'] as const;
const COUNTER_DIGITS = 12;
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/** Builds the load on `serde` (its registered schema id frames every record; its schema must be reaction.avsc's). */
export function createReactionLoad(
  serde: AvroSerde<ReactionRecord>,
  options: ReactionLoadOptions,
): ReactionLoad {
  const type = serde.type as avro.types.RecordType;
  const names = type.fields.map((f) => f.name);
  if (names.join() !== FIELD_ORDER.join()) {
    throw new Error(
      `reaction schema fields are ${names.join(', ')}; the load writes ${FIELD_ORDER.join(', ')}`,
    );
  }
  const field = (name: (typeof FIELD_ORDER)[number], value: unknown): Buffer =>
    type.field(name).type.toBuffer(value);
  const users = options.users ?? 100_000;
  const { matches, emojis, partitions } = options;

  // Frame header + event_id with the counter digits zeroed; each record copies it and writes its counter.
  const frame = serde.encode({
    event_id: `${randomUUID().slice(0, 36 - COUNTER_DIGITS)}${'0'.repeat(COUNTER_DIGITS)}`,
    match_id: '',
    user_id: '',
    emoji: '',
    client_ts: 0,
    ingest_ts: 0,
  });
  const prefixLength = frame.length - 5; // the four empty strings and two zero longs are one byte each
  const prefix = Buffer.from(frame.subarray(0, prefixLength));
  const counterAt = prefixLength - COUNTER_DIGITS;

  const matchFields = matches.map((m) => field('match_id', m));
  const emojiFields = emojis.map((e) => field('emoji', e));
  const userIds = Array.from({ length: users }, (_, u) => `u${u}`);
  const userFields = userIds.map((u) => field('user_id', u));
  const userKeys = userIds.map((u) => Buffer.from(u));
  const userPartitions = Int32Array.from(userKeys, (k) => keyPartition(k, partitions));
  const maxOf = (bufs: Buffer[]) => bufs.reduce((n, b) => Math.max(n, b.length), 0);
  // Two longs of at most 10 bytes each.
  const maxRecord = prefixLength + maxOf(matchFields) + maxOf(userFields) + maxOf(emojiFields) + 20;

  let i = 0;
  let counter = 0;

  function writeCounter(buf: Buffer, at: number): void {
    let c = counter++;
    for (let d = at + COUNTER_DIGITS - 1; d >= at; d--) {
      buf[d] = HEX[c % 16] as number;
      c = Math.floor(c / 16);
    }
  }

  return {
    next(count, now) {
      const stamps = Buffer.concat([field('client_ts', now), field('ingest_ts', now)]);
      const slab = Buffer.allocUnsafe(count * maxRecord);
      const out: PartitionedMessage[][] = Array.from({ length: partitions }, () => []);
      let at = 0;
      for (let k = 0; k < count; k++, i++) {
        const user = i % users;
        const start = at;
        slab.set(prefix, at);
        writeCounter(slab, at + counterAt);
        at += prefixLength;
        const m = matchFields[i % matchFields.length] as Buffer;
        slab.set(m, at);
        at += m.length;
        const u = userFields[user] as Buffer;
        slab.set(u, at);
        at += u.length;
        const e = emojiFields[(i >> 3) % emojiFields.length] as Buffer;
        slab.set(e, at);
        at += e.length;
        slab.set(stamps, at);
        at += stamps.length;
        const partition = userPartitions[user] as number;
        (out[partition] as PartitionedMessage[]).push({
          key: userKeys[user] as Buffer,
          value: slab.subarray(start, at),
          partition,
        });
      }
      return out;
    },
    single(record, key) {
      const value = serde.encode({ ...record, event_id: randomUUID() });
      return { key: Buffer.from(key), value, partition: keyPartition(key, partitions) };
    },
  };
}
