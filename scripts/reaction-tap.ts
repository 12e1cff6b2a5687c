/**
 * The load simulator's tap on the reactions topic: for each record of its own matches, the record's Kafka
 * timestamp (ingest's producer stamps it when it sends the batch) under the record's match and ingest timestamp,
 * which name the request that carried it. That is the "on Kafka" stamp of the hop split (hop-trace.ts).
 *
 * Cheap at the simulator's rates: one consumer of its own group (no offsets committed, so the group leaves nothing
 * behind), decoding each record once with the registry serde. It starts at the end offsets it reads before
 * joining (seeking there rather than letting a new group reset to "latest" at its first fetch, which may come
 * after the first records of the run landed), so no record written after `startReactionTap` resolves is missed.
 */
import type { Consumer } from 'kafkajs';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import type { ReactionRecord } from '../common/records.ts';

/** Options of {@link startReactionTap}. */
export interface ReactionTapOptions {
  brokers: string[];
  registryUrl: string;
  topic: string;
  /** Only records whose match id starts with this are reported (the run's own matches). */
  matchPrefix: string;
  /** A record of `matchId` stamped `ingestTs` by ingest was on Kafka at `at`. */
  onRecord(matchId: string, ingestTs: number, at: number): void;
  /** How long to wait for the consumer to join its group. @default 30000 */
  joinTimeoutMs?: number;
}

/** A running tap. */
export interface ReactionTap {
  /** Records of the run's matches seen, and records that could not be decoded. */
  readonly counts: { seen: number; undecodable: number };
  stop(): Promise<void>;
}

/** Starts the tap; resolves once it reads from the end of the topic, rejects when it cannot. */
export async function startReactionTap(options: ReactionTapOptions): Promise<ReactionTap> {
  const logger = createLogger('load-tap');
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(options.registryUrl), {
    topic: options.topic,
    schema: await loadSchema('reaction'),
    register: false,
  });
  const kafka = createKafka({
    clientId: 'emostream-load-tap',
    brokers: options.brokers,
    logger,
    logLevel: KafkaLogLevel.ERROR,
  });
  const consumer: Consumer = kafka.consumer({
    groupId: `emostream-load-tap-${options.matchPrefix}`,
    allowAutoTopicCreation: false,
  });
  const counts = { seen: 0, undecodable: 0 };
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string }[];
  try {
    ends = await admin.fetchTopicOffsets(options.topic);
  } finally {
    await admin.disconnect();
  }
  await consumer.connect();
  try {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topic: options.topic, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          if (message.value === null) continue;
          let record: ReactionRecord;
          try {
            record = await serde.deserialize(message.value);
          } catch {
            // Not ours to judge (Spark drops what it cannot decode); only counted.
            counts.undecodable++;
            continue;
          }
          if (!record.match_id.startsWith(options.matchPrefix)) continue;
          const at = Number(message.timestamp);
          if (!Number.isFinite(at)) continue;
          counts.seen++;
          options.onRecord(record.match_id, record.ingest_ts, at);
        }
      },
    });
    for (const { partition, high } of ends) consumer.seek({ topic: options.topic, partition, offset: high });
    const timeoutMs = options.joinTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      joined,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no group join within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  } catch (err) {
    await consumer.disconnect().catch(() => {});
    throw err;
  }
  return {
    counts,
    async stop() {
      await consumer.disconnect();
    },
  };
}
