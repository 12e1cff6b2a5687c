import { randomUUID } from 'node:crypto';
import type { Consumer, Producer } from 'kafkajs';
import { pino } from 'pino';
import {
  type AvroSerde,
  createAvroSerde,
  createRegistryClient,
  loadSchema,
} from '../../../common/avro-serde.ts';
import { createKafka, KafkaLogLevel } from '../../../common/kafka.ts';
import type { AggregateRow, ReactionRecord } from '../../../common/records.ts';

/** A run of identical reactions: `n` taps of `emoji` on `match` stamped `ts` (ms). */
export interface ReactionRun {
  match: string;
  emoji: string;
  ts: number;
  n: number;
}

/** The records on the reactions topic: the services' own type, so fixtures cannot drift. */
export type { ReactionRecord };

/** Key of an idempotent aggregate row: (match, window start, emoji). */
export const aggregateKey = (r: { match_id: string; window_start: number; emoji: string }) =>
  `${r.match_id}|${new Date(r.window_start).toISOString()}|${r.emoji}`;

/** Reference result: final count per (match, window, emoji) of tumbling windows of `windowMs`. */
export function expectedCounts(runs: ReactionRun[], windowMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of runs) {
    const start = r.ts - (((r.ts % windowMs) + windowMs) % windowMs);
    const key = aggregateKey({ match_id: r.match, window_start: start, emoji: r.emoji });
    out.set(key, (out.get(key) ?? 0) + r.n);
  }
  return out;
}

/** Produces reaction runs as registry-framed Avro keyed by user id, in bounded batches. */
export async function createReactionProducer(
  brokers: string,
  registryUrl: string,
  topic: string,
): Promise<{ send(runs: ReactionRun[]): Promise<number>; close(): Promise<void> }> {
  const kafka = createKafka({
    clientId: 'stream-fixtures-producer',
    brokers,
    logger: pino({ level: 'silent' }),
    logLevel: KafkaLogLevel.ERROR,
  });
  const producer: Producer = kafka.producer();
  await producer.connect();
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('reaction'),
  });
  let user = 0;
  return {
    async send(runs) {
      let batch: { key: string; value: Buffer }[] = [];
      let sent = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await producer.send({ topic, acks: -1, messages: batch });
        sent += batch.length;
        batch = [];
      };
      for (const r of runs) {
        for (let i = 0; i < r.n; i++) {
          const user_id = `u${user++ % 5000}`;
          const value = serde.encode({
            event_id: randomUUID(),
            match_id: r.match,
            user_id,
            emoji: r.emoji,
            client_ts: r.ts,
            ingest_ts: r.ts,
          });
          batch.push({ key: user_id, value });
          if (batch.length >= 5000) await flush();
        }
      }
      await flush();
      return sent;
    },
    close: () => producer.disconnect(),
  };
}

/** Reads an aggregates topic from the beginning, keeping every row and the latest row per key. */
export interface AggregateReader {
  latest: Map<string, AggregateRow>;
  all: { key: string | undefined; schemaId: number; row: AggregateRow }[];
  /** Resolves when `predicate` holds on the rows read so far; rejects with the last state after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  close(): Promise<void>;
}

export async function readAggregates(
  brokers: string,
  registryUrl: string,
  topic: string,
  onRow?: (row: AggregateRow) => void,
): Promise<AggregateReader> {
  const kafka = createKafka({
    clientId: 'stream-fixtures-reader',
    brokers,
    logger: pino({ level: 'silent' }),
    logLevel: KafkaLogLevel.ERROR,
  });
  const consumer: Consumer = kafka.consumer({ groupId: `int-${randomUUID()}` });
  const serde: AvroSerde<AggregateRow> = await createAvroSerde(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('aggregate'),
    register: false,
  });
  const reader: AggregateReader = {
    latest: new Map(),
    all: [],
    async waitFor(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          const rows = [...reader.latest.entries()].map(([k, r]) => `${k}=${r.count}`).join(', ');
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; latest rows: ${rows}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    close: () => consumer.disconnect(),
  };
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      if (!message.value) return;
      const row = await serde.deserialize(message.value);
      onRow?.(row);
      reader.all.push({ key: message.key?.toString(), schemaId: message.value.readInt32BE(1), row });
      const k = aggregateKey(row);
      // Rows of one match share a partition (key = match_id), so the newest read is the newest written.
      reader.latest.set(k, row);
    },
  });
  return reader;
}

/** Whether the latest rows hold exactly the expected counts (no key more, none less). */
export function matchesExpected(latest: Map<string, AggregateRow>, expected: Map<string, number>): boolean {
  if (latest.size !== expected.size) return false;
  for (const [k, n] of expected) if (latest.get(k)?.count !== n) return false;
  return true;
}
