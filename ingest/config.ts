/**
 * Ingest's one typed configuration, parsed from the environment once at start-up. Every bad variable is named in
 * one {@link ConfigError}; the type is derived from the spec, whose field docs are the config's docs.
 */
import * as z from 'zod';
import { AUTH_ENV, authConfigProblem } from '../common/auth.ts';
import { trustedProxiesVar } from '../common/client-address.ts';
import { clientSecurityFromEnv } from '../common/client-security.ts';
import { corsOriginsVar } from '../common/cors.ts';
import { ConfigError, type EnvConfig, fromEnv, intVar, listVar, parseEnv, urlVar } from '../common/env.ts';
import { matchIdSchema } from '../common/ids.ts';
import { TOPICS } from '../common/topics.ts';
import { createEmojiNormalizer, readEmojiAliases } from './emoji-normalizer.ts';

/** Allowlist entries must name an emoji now, not when the first reaction arrives; every bad one is named. */
const emojiAllowlist = listVar.superRefine((entries, ctx) => {
  if (entries.length === 0) return;
  const normalizer = createEmojiNormalizer();
  for (const entry of entries) {
    const r = normalizer.normalize(entry);
    if (!r.ok)
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(entry)} is not an emoji (${r.reason})` });
  }
});

const INGEST_ENV = {
  /** Kafka bootstrap brokers (`KAFKA_BROKERS`, comma list). */
  kafkaBrokers: fromEnv(
    'KAFKA_BROKERS',
    listVar.refine((l) => l.length > 0, 'at least one host:port is required'),
  ),
  /** Confluent-compatible schema registry base URL (`SCHEMA_REGISTRY_URL`). */
  schemaRegistryUrl: fromEnv('SCHEMA_REGISTRY_URL', urlVar),
  /** @default '127.0.0.1' */
  host: fromEnv('HOST', z.string().min(1).default('127.0.0.1')),
  /** 0 picks a free port. @default 8080 */
  port: fromEnv('INGEST_PORT', intVar(0, 65535, 8080)),
  /** @default 'emoji.reactions.v1' */
  topic: fromEnv('INGEST_TOPIC', z.string().min(1).max(249).default(TOPICS.reactions)),
  /** Match of `POST /emoji` bodies, which carry none. @default 'default' */
  defaultMatchId: fromEnv('INGEST_DEFAULT_MATCH_ID', matchIdSchema.default('default')),
  /** Most reactions per batch request. @default 1000 */
  batchMaxItems: fromEnv('INGEST_BATCH_MAX_ITEMS', intVar(1, 100_000, 1000)),
  /** Palette (comma list of emojis or short names, each checked here); empty = any single emoji. @default [] */
  emojiAllowlist: fromEnv('INGEST_EMOJI_ALLOWLIST', emojiAllowlist),
  /**
   * Extra emoji aliases read from the JSON file `INGEST_EMOJI_ALIASES` names (the shape of
   * `ingest/emoji-aliases.json`; `"replace": true` drops the built-in ones). @default undefined (built-in only)
   */
  emojiAliases: fromEnv(
    'INGEST_EMOJI_ALIASES',
    z
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
  ),
  /** @default 30000 */
  skewAheadMs: fromEnv('INGEST_SKEW_AHEAD_MS', intVar(0, 86_400_000, 30_000)),
  /** @default 300000 */
  skewBehindMs: fromEnv('INGEST_SKEW_BEHIND_MS', intVar(0, 7 * 86_400_000, 300_000)),
  /** Sustained reactions per second per user; 0 disables the limit. @default 20 */
  rateLimitPerSec: fromEnv('INGEST_RATE_LIMIT_PER_SEC', z.coerce.number().min(0).max(1_000_000).default(20)),
  /** @default 40 */
  rateLimitBurst: fromEnv('INGEST_RATE_LIMIT_BURST', intVar(1, 10_000_000, 40)),
  /** Users whose buckets are kept. @default 100000 */
  rateLimitMaxUsers: fromEnv('INGEST_RATE_LIMIT_MAX_USERS', intVar(1, 10_000_000, 100_000)),
  /**
   * `jwt`: every reaction route needs `Authorization: Bearer <JWT>` (checked as `AUTH_*` say, common/auth.ts);
   * the user id is the token's `sub`. `off`: anyone may post as any user (the seed-compatible local default).
   * @default 'off'
   */
  auth: fromEnv('INGEST_AUTH', z.enum(['off', 'jwt']).default('off')),
  ...AUTH_ENV,
  /**
   * Sustained reaction requests per second per client address (see `INGEST_TRUSTED_PROXIES`); 0 disables the
   * limit (the local default, so a load simulator on loopback gets through). @default 0
   */
  addressRateLimitPerSec: fromEnv(
    'INGEST_ADDRESS_RATE_LIMIT_PER_SEC',
    z.coerce.number().min(0).max(1_000_000).default(0),
  ),
  /** @default 200 */
  addressRateLimitBurst: fromEnv('INGEST_ADDRESS_RATE_LIMIT_BURST', intVar(1, 10_000_000, 200)),
  /** Client addresses whose buckets are kept. @default 100000 */
  addressRateLimitMaxKeys: fromEnv('INGEST_ADDRESS_RATE_LIMIT_MAX_KEYS', intVar(1, 10_000_000, 100_000)),
  /**
   * Peers whose `X-Forwarded-For` names the client (comma list of CIDR ranges, e.g. the load balancer's).
   * @default [] (the socket's address is the client)
   */
  trustedProxies: fromEnv('INGEST_TRUSTED_PROXIES', trustedProxiesVar),
  /** Flood guard: sustained reactions per second into one match; 0 disables it. @default 0 */
  matchRateLimitPerSec: fromEnv(
    'INGEST_MATCH_RATE_LIMIT_PER_SEC',
    z.coerce.number().min(0).max(10_000_000).default(0),
  ),
  /** @default 20000 */
  matchRateLimitBurst: fromEnv('INGEST_MATCH_RATE_LIMIT_BURST', intVar(1, 100_000_000, 20_000)),
  /** Records queued or in flight before 503. @default 200000 */
  bufferCapacity: fromEnv('INGEST_BUFFER_CAPACITY', intVar(1, 10_000_000, 200_000)),
  /** Longest a reaction waits before it is sent, ms (≤ 500). @default 100 */
  flushIntervalMs: fromEnv('INGEST_FLUSH_INTERVAL_MS', intVar(1, 500, 100)),
  /** Most records per Kafka send (bigger sends measured markedly faster through kafkajs). @default 5000 */
  maxBatchSize: fromEnv('INGEST_MAX_BATCH_SIZE', intVar(1, 100_000, 5000)),
  /** Kafka sends in flight at once. @default 8 */
  maxInFlight: fromEnv('INGEST_MAX_IN_FLIGHT', intVar(1, 64, 8)),
  /** Body limit of single-reaction requests, bytes. @default 16384 */
  maxBodyBytes: fromEnv('INGEST_MAX_BODY_BYTES', intVar(64, 1_048_576, 16_384)),
  /** Body limit of batch requests, bytes. @default 1048576 */
  maxBatchBodyBytes: fromEnv('INGEST_MAX_BATCH_BODY_BYTES', intVar(1024, 64 * 1_048_576, 1_048_576)),
  /** How long SIGTERM waits for Kafka to acknowledge the buffer, ms. @default 30000 */
  drainTimeoutMs: fromEnv('INGEST_DRAIN_TIMEOUT_MS', intVar(0, 600_000, 30_000)),
  /** Origins of browser pages allowed to POST reactions (comma list). @default the web viewer's (common/cors.ts) */
  corsOrigins: fromEnv('CORS_ORIGINS', corsOriginsVar),
  /**
   * Directory of the dead-letter file: records Kafka refuses on their own (too large, invalid) are written there
   * as JSON lines (`dead-letters.jsonl`, see dead-letter-file.ts). Unset: each is only logged, the reaction in the
   * log line. @default undefined
   */
  deadLetterDir: fromEnv('INGEST_DEAD_LETTER_DIR', z.string().min(1).optional()),
  /** Most bytes of the dead-letter file, and of its one rotation. @default 67108864 (64 MiB) */
  deadLetterMaxBytes: fromEnv('INGEST_DEAD_LETTER_MAX_BYTES', intVar(1024, 2 ** 40, 64 * 1024 * 1024)),
  /** Where the kafkajs producer runs: a worker thread (off the HTTP thread) or inline. @default 'worker' */
  producerThread: fromEnv('INGEST_PRODUCER_THREAD', z.enum(['worker', 'inline']).default('worker')),
};

/** Validated configuration of {@link createIngest}. */
export type IngestConfig = EnvConfig<typeof INGEST_ENV>;

/** Parses the environment; throws {@link ConfigError} naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): IngestConfig {
  const config = parseEnv('ingest', INGEST_ENV, env);
  // Kafka and registry credentials (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, …) are applied by createKafka and
  // createRegistryClient; checked here so a bad one stops the start with its variable named.
  clientSecurityFromEnv(env, 'ingest');
  const auth = config.auth === 'jwt' ? authConfigProblem(config) : undefined;
  if (auth !== undefined)
    throw new ConfigError('ingest', [{ variable: 'INGEST_AUTH', message: `is jwt: ${auth}` }]);
  return config;
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
