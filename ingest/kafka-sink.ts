/**
 * The kafkajs side of ingest: one producer, acks from all in-sync replicas, records keyed by user id so one
 * viewer's taps stay in order on one partition (Java-compatible murmur2 partitioner, same as Spark and the JVM
 * clients would pick; see kafka-partitioner.ts).
 *
 * A send is one produce request per partition, all at once. kafkajs reports only the first partition error of a
 * produce response and none of what the other partitions wrote, so with one request for the whole chunk a
 * refusal of one partition would leave the fate of every other record unknown: re-sending them would write
 * them twice. Per partition, an outcome is all or nothing (a partition's record batch is appended whole or
 * refused whole), and a failure is reported as {@link PartialSendError} naming exactly the records not written.
 */
import type { Producer } from 'kafkajs';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import { keyPartition } from '../common/murmur2.ts';
import { FastKeyPartitioner } from './kafka-partitioner.ts';
import type { RecordSink } from './reaction-buffer.ts';
import { PartialSendError } from './send-errors.ts';

/** Partition count older than this is refreshed in the background (a topic may gain partitions). */
const METADATA_MAX_AGE_MS = 30_000;

/** Options of {@link createKafkaSink}. */
export interface KafkaSinkOptions {
  brokers: string[];
  topic: string;
  clientId?: string;
  /** Broker-side wait for the in-sync replicas, ms. @default 30000 */
  ackTimeoutMs?: number;
  logger: Logger;
}

/** A record as kafkajs takes it: the key as a string or as its UTF-8 bytes (same partition either way). */
export interface WireRecord {
  key: string | Buffer;
  value: Buffer;
}

/** {@link RecordSink} plus lifecycle and a readiness probe. */
export interface KafkaSink extends RecordSink {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Resolves when the cluster answers a metadata request for the topic; rejects otherwise. */
  ping(): Promise<void>;
}

/** A kafkajs producer of reaction records to `options.topic`, with an admin for the readiness probe. */
export function createKafkaSink(
  options: KafkaSinkOptions,
): KafkaSink & { send(records: WireRecord[]): Promise<void> } {
  const kafka = createKafka({
    clientId: options.clientId ?? 'emostream-ingest',
    brokers: options.brokers,
    logger: options.logger,
    connectionTimeout: 3000,
    // kafkajs retries a failed produce itself (re-sending only to brokers that did not answer); the buffer retries
    // beyond that, for as long as it runs.
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
  const producer: Producer = kafka.producer({
    createPartitioner: FastKeyPartitioner,
    allowAutoTopicCreation: false,
    idempotent: false,
  });
  const admin = kafka.admin();
  const ackTimeout = options.ackTimeoutMs ?? 30_000;
  let adminConnected: Promise<void> | undefined;
  let partitionCount: number | undefined;
  let fetchedAt = 0;
  let fetching: Promise<number> | undefined;

  function connectAdmin(): Promise<void> {
    adminConnected ??= admin.connect().catch((err: unknown) => {
      adminConnected = undefined;
      throw err;
    });
    return adminConnected;
  }

  function refreshPartitions(): Promise<number> {
    fetching ??= (async () => {
      try {
        await connectAdmin();
        const { topics } = await admin.fetchTopicMetadata({ topics: [options.topic] });
        const n = topics[0]?.partitions.length ?? 0;
        if (n === 0) throw new Error(`topic ${options.topic} has no partitions in the cluster's metadata`);
        partitionCount = n;
        fetchedAt = performance.now();
        return n;
      } finally {
        fetching = undefined;
      }
    })();
    return fetching;
  }

  /** The topic's partition count: cached, refreshed in the background when stale, fetched when unknown. */
  async function partitions(): Promise<number> {
    if (partitionCount === undefined) return refreshPartitions();
    if (performance.now() - fetchedAt > METADATA_MAX_AGE_MS) {
      refreshPartitions().catch((err: unknown) =>
        options.logger.warn({ err }, 'refreshing the partition count failed; keeping the last one'),
      );
    }
    return partitionCount;
  }

  return {
    async connect() {
      await producer.connect();
    },
    async disconnect() {
      await producer.disconnect();
      if (adminConnected) await adminConnected.then(() => admin.disconnect()).catch(() => {});
    },
    async send(records: WireRecord[]) {
      const n = await partitions();
      const groups = new Map<
        number,
        { indices: number[]; messages: (WireRecord & { partition: number })[] }
      >();
      for (let i = 0; i < records.length; i++) {
        const r = records[i] as WireRecord;
        const partition = keyPartition(r.key, n);
        let g = groups.get(partition);
        if (g === undefined) {
          g = { indices: [], messages: [] };
          groups.set(partition, g);
        }
        g.indices.push(i);
        g.messages.push({ key: r.key, value: r.value, partition });
      }
      const list = [...groups.values()];
      const settled = await Promise.allSettled(
        list.map((g) =>
          producer.send({ topic: options.topic, acks: -1, timeout: ackTimeout, messages: g.messages }),
        ),
      );
      const failures: { indices: number[]; error: Error }[] = [];
      for (let i = 0; i < settled.length; i++) {
        const s = settled[i] as PromiseSettledResult<unknown>;
        if (s.status === 'rejected') {
          const error = s.reason instanceof Error ? s.reason : new Error(String(s.reason));
          failures.push({ indices: (list[i] as { indices: number[] }).indices, error });
        }
      }
      if (failures.length > 0) {
        // Partitions may have moved or grown; the next send asks the cluster again.
        fetchedAt = 0;
        throw new PartialSendError(failures);
      }
    },
    async ping() {
      await connectAdmin();
      await admin.fetchTopicMetadata({ topics: [options.topic] });
    },
  };
}
