/**
 * Ingest's one typed configuration, parsed from the environment once at start-up. Every bad key is named in one
 * {@link ConfigError}.
 */
import * as z from 'zod';
import { TOPICS } from '../common/topics.ts';
import { type EmojiAliasTable, readEmojiAliases } from './emoji-normalizer.ts';
import { ConfigError } from './errors.ts';

/** Validated configuration of {@link createIngest}. */
export interface IngestConfig {
  /** Kafka bootstrap brokers (`KAFKA_BROKERS`, comma list). */
  kafkaBrokers: string[];
  /** Confluent-compatible schema registry base URL (`SCHEMA_REGISTRY_URL`). */
  schemaRegistryUrl: string;
  /** @default '127.0.0.1' */
  host: string;
  /** 0 picks a free port. @default 8080 */
  port: number;
  /** @default 'emoji.reactions.v1' */
  topic: string;
  /** Match of `POST /emoji` bodies, which carry none. @default 'default' */
  defaultMatchId: string;
  /** Most reactions per batch request. @default 1000 */
  batchMaxItems: number;
  /** Canonicalised palette; empty = any single emoji. */
  emojiAllowlist: string[];
  /**
   * Extra emoji aliases read from the JSON file `INGEST_EMOJI_ALIASES` names (the shape of
   * `ingest/emoji-aliases.json`; `"replace": true` drops the built-in ones). @default undefined (built-in only)
   */
  emojiAliases: EmojiAliasTable | undefined;
  /** @default 30000 */
  skewAheadMs: number;
  /** @default 300000 */
  skewBehindMs: number;
  /** Sustained reactions per second per user; 0 disables the limit. @default 20 */
  rateLimitPerSec: number;
  /** @default 40 */
  rateLimitBurst: number;
  /** Users whose buckets are kept. @default 100000 */
  rateLimitMaxUsers: number;
  /** Records queued or in flight before 503. @default 200000 */
  bufferCapacity: number;
  /** Longest a reaction waits before it is sent, ms (≤ 500). @default 100 */
  flushIntervalMs: number;
  /** Most records per Kafka send (bigger sends measured markedly faster through kafkajs). @default 5000 */
  maxBatchSize: number;
  /** Kafka sends in flight at once. @default 8 */
  maxInFlight: number;
  /** Body limit of single-reaction requests, bytes. @default 16384 */
  maxBodyBytes: number;
  /** Body limit of batch requests, bytes. @default 1048576 */
  maxBatchBodyBytes: number;
  /** How long SIGTERM waits for Kafka to acknowledge the buffer, ms. @default 30000 */
  drainTimeoutMs: number;
  /** Where the kafkajs producer runs: a worker thread (off the HTTP thread) or inline. @default 'worker' */
  producerThread: 'worker' | 'inline';
}

const int = (min: number, max: number, dflt: number) =>
  z.coerce.number().int().min(min).max(max).default(dflt);
const list = z
  .string()
  .default('')
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x.length > 0),
  );

const ENV = z.object({
  KAFKA_BROKERS: list.refine((l) => l.length > 0, 'at least one host:port is required'),
  SCHEMA_REGISTRY_URL: z.url({ protocol: /^https?$/ }),
  HOST: z.string().min(1).default('127.0.0.1'),
  INGEST_PORT: int(0, 65535, 8080),
  INGEST_TOPIC: z.string().min(1).max(249).default(TOPICS.reactions),
  INGEST_DEFAULT_MATCH_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.:@-]{1,64}$/)
    .default('default'),
  INGEST_BATCH_MAX_ITEMS: int(1, 100_000, 1000),
  INGEST_EMOJI_ALLOWLIST: list,
  INGEST_EMOJI_ALIASES: z
    .string()
    .optional()
    .transform((file, ctx) => {
      if (!file) return undefined;
      try {
        return readEmojiAliases(file);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  INGEST_SKEW_AHEAD_MS: int(0, 86_400_000, 30_000),
  INGEST_SKEW_BEHIND_MS: int(0, 7 * 86_400_000, 300_000),
  INGEST_RATE_LIMIT_PER_SEC: z.coerce.number().min(0).max(1_000_000).default(20),
  INGEST_RATE_LIMIT_BURST: int(1, 10_000_000, 40),
  INGEST_RATE_LIMIT_MAX_USERS: int(1, 10_000_000, 100_000),
  INGEST_BUFFER_CAPACITY: int(1, 10_000_000, 200_000),
  INGEST_FLUSH_INTERVAL_MS: int(1, 500, 100),
  INGEST_MAX_BATCH_SIZE: int(1, 100_000, 5000),
  INGEST_MAX_IN_FLIGHT: int(1, 64, 8),
  INGEST_MAX_BODY_BYTES: int(64, 1_048_576, 16_384),
  INGEST_MAX_BATCH_BODY_BYTES: int(1024, 64 * 1_048_576, 1_048_576),
  INGEST_DRAIN_TIMEOUT_MS: int(0, 600_000, 30_000),
  INGEST_PRODUCER_THREAD: z.enum(['worker', 'inline']).default('worker'),
});

/** Parses the environment; throws {@link ConfigError} naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const r = ENV.safeParse(env);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = r.data;
  return {
    kafkaBrokers: e.KAFKA_BROKERS,
    schemaRegistryUrl: e.SCHEMA_REGISTRY_URL,
    host: e.HOST,
    port: e.INGEST_PORT,
    topic: e.INGEST_TOPIC,
    defaultMatchId: e.INGEST_DEFAULT_MATCH_ID,
    batchMaxItems: e.INGEST_BATCH_MAX_ITEMS,
    emojiAllowlist: e.INGEST_EMOJI_ALLOWLIST,
    emojiAliases: e.INGEST_EMOJI_ALIASES,
    skewAheadMs: e.INGEST_SKEW_AHEAD_MS,
    skewBehindMs: e.INGEST_SKEW_BEHIND_MS,
    rateLimitPerSec: e.INGEST_RATE_LIMIT_PER_SEC,
    rateLimitBurst: e.INGEST_RATE_LIMIT_BURST,
    rateLimitMaxUsers: e.INGEST_RATE_LIMIT_MAX_USERS,
    bufferCapacity: e.INGEST_BUFFER_CAPACITY,
    flushIntervalMs: e.INGEST_FLUSH_INTERVAL_MS,
    maxBatchSize: e.INGEST_MAX_BATCH_SIZE,
    maxInFlight: e.INGEST_MAX_IN_FLIGHT,
    maxBodyBytes: e.INGEST_MAX_BODY_BYTES,
    maxBatchBodyBytes: e.INGEST_MAX_BATCH_BODY_BYTES,
    drainTimeoutMs: e.INGEST_DRAIN_TIMEOUT_MS,
    producerThread: e.INGEST_PRODUCER_THREAD,
  };
}

/** Configuration for tests and embedding: defaults plus the given overrides. */
export function configWithDefaults(
  required: Pick<IngestConfig, 'kafkaBrokers' | 'schemaRegistryUrl'> & Partial<IngestConfig>,
): IngestConfig {
  const base = loadConfig({
    KAFKA_BROKERS: required.kafkaBrokers.join(','),
    SCHEMA_REGISTRY_URL: required.schemaRegistryUrl,
  });
  return { ...base, ...required };
}
