/**
 * The kafkajs side of ingest: one producer, acks from all in-sync replicas, records keyed by user id so one
 * viewer's taps stay in order on one partition (Java-compatible murmur2 partitioner, same as Spark and the JVM
 * clients would pick; see kafka-partitioner.ts).
 */
import type { Producer } from 'kafkajs';
import { createKafka } from '../common/kafka.ts';
import type { Logger } from '../common/logger.ts';
import { FastKeyPartitioner } from './kafka-partitioner.ts';
import type { RecordSink } from './reaction-buffer.ts';

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

  return {
    async connect() {
      await producer.connect();
    },
    async disconnect() {
      await producer.disconnect();
      if (adminConnected) await adminConnected.then(() => admin.disconnect()).catch(() => {});
    },
    async send(records: WireRecord[]) {
      await producer.send({ topic: options.topic, acks: -1, timeout: ackTimeout, messages: records });
    },
    async ping() {
      adminConnected ??= admin.connect().catch((err: unknown) => {
        adminConnected = undefined;
        throw err;
      });
      await adminConnected;
      await admin.fetchTopicMetadata({ topics: [options.topic] });
    },
  };
}
