/**
 * The one way this repo makes a kafkajs client and creates a topic: {@link createKafka} routes kafkajs' logs into
 * the process's pino logger under one level rule, and {@link ensureTopic} creates a topic idempotently and
 * race-safely (several services may create the same topic as they start together).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Admin,
  type ConfigResourceTypes,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
} from 'kafkajs';
import { type KafkaSecurity, kafkajsSecurity, processClientSecurity } from './client-security.ts';
import type { Logger } from './logger.ts';

export { logLevel as KafkaLogLevel };

/** Options of {@link createKafka}: kafkajs' own (retry, timeouts, ssl, …) plus where its logs go. */
export interface KafkaClientOptions
  extends Omit<KafkaConfig, 'brokers' | 'clientId' | 'logLevel' | 'logCreator'> {
  clientId: string;
  /** Bootstrap brokers, as a list or as the comma-separated value of KAFKA_BROKERS. */
  brokers: string | readonly string[];
  /** The process's logger; kafkajs entries go to a `component: 'kafkajs'` child of it. */
  logger: Logger;
  /**
   * Lowest kafkajs level passed on at all. @default derived from the logger's level (see {@link kafkaLevelFor}),
   * so LOG_LEVEL is the one knob. Set `KafkaLogLevel.NOTHING` where failures are expected (readiness probes).
   */
  logLevel?: logLevel;
  /**
   * TLS and SASL settings. @default this process's KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CA_FILE
   * (client-security.ts), parsed once: every client of a process connects the same way unless told otherwise.
   * Explicit `ssl`/`sasl` options win over it.
   */
  security?: KafkaSecurity;
}

/** The comma-separated KAFKA_BROKERS form or a list, as a list without blanks. */
export function brokerList(brokers: string | readonly string[]): string[] {
  const list = typeof brokers === 'string' ? brokers.split(',') : [...brokers];
  return list.map((b) => b.trim()).filter((b) => b.length > 0);
}

/**
 * The pino method a kafkajs entry is logged with. kafkajs INFO goes to **debug**: it logs every connect, group
 * join, rebalance and consumer start at INFO, many lines per client per start, while the services log their own
 * lifecycle at info; kafkajs DEBUG (protocol requests) goes to trace.
 */
export function pinoLevelOf(level: logLevel): 'error' | 'warn' | 'debug' | 'trace' {
  if (level <= logLevel.ERROR) return 'error';
  if (level === logLevel.WARN) return 'warn';
  if (level === logLevel.INFO) return 'debug';
  return 'trace';
}

/**
 * The kafkajs level that lets through exactly the entries the logger would print under {@link pinoLevelOf}, so
 * kafkajs does not build entries only for pino to drop them.
 */
export function kafkaLevelFor(logger: Pick<Logger, 'levelVal'>): logLevel {
  const v = logger.levelVal;
  if (v <= 10) return logLevel.DEBUG; // trace
  if (v <= 20) return logLevel.INFO; // debug
  if (v <= 40) return logLevel.WARN; // info, warn
  if (v <= 60) return logLevel.ERROR; // error, fatal
  return logLevel.NOTHING; // silent
}

/** kafkajs `logCreator` writing to `logger` under the {@link pinoLevelOf} rule (kafkajs would print to the console). */
export function kafkaLogCreator(logger: Logger): NonNullable<KafkaConfig['logCreator']> {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _kafkajs, ...rest } = log;
      logger[pinoLevelOf(level)]({ namespace, ...rest }, message);
    };
}

/** A kafkajs client whose logs go to the service's structured logger, connecting as configured (TLS, SASL). */
export function createKafka(options: KafkaClientOptions): Kafka {
  const { logger, brokers, logLevel: level, security, ...config } = options;
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    ...kafkajsSecurity(security ?? processClientSecurity().kafka),
    ...config,
    brokers: brokerList(brokers),
    logLevel: level ?? kafkaLevelFor(log),
    logCreator: kafkaLogCreator(log),
  });
}

/** A topic as {@link ensureTopic} creates it. */
export interface TopicSpec {
  topic: string;
  /** Partitions when this call creates the topic. */
  partitions: number;
  /** @default the broker's default.replication.factor */
  replicationFactor?: number;
  /** Topic configs, e.g. `{ 'retention.ms': '3600000' }`. */
  configs?: Record<string, string>;
}

/** Options of {@link ensureTopic}. */
export interface EnsureTopicOptions {
  /**
   * An existing topic with another partition count is an error ({@link TopicMismatchError}) instead of being used
   * as it is. For stacks that own their topics; services that share a topic made elsewhere leave it off.
   * @default false
   */
  exactPartitions?: boolean;
  /**
   * With {@link exactPartitions}: an existing topic with MORE partitions than asked is used as it is, after this is
   * called (Kafka cannot take partitions away, and a consumer reads any count; a stack whose default shrank keeps the
   * data it has). One with fewer is still an error. @default none: more is an error too
   */
  onMorePartitions?: (topic: string, partitions: number, asked: number) => void;
  /** Tries before a retriable failure is thrown. @default 10 */
  attempts?: number;
  /**
   * An existing topic whose {@link TopicSpec.configs} differ gets them altered to the spec's values (its other
   * per-topic overrides are kept), so a changed setting reaches topics made by an earlier run. For stacks that own
   * their topics; services that share a topic made elsewhere leave it off. @default false
   */
  alterConfigs?: boolean;
}

/** An existing topic's partition count differs from the one asked with `exactPartitions`. Never retriable. */
export class TopicMismatchError extends Error {
  override readonly name = 'TopicMismatchError';
  readonly retriable = false;
  constructor(
    readonly topic: string,
    readonly partitions: number,
    readonly expected: number,
  ) {
    super(`topic ${topic} has ${partitions} partitions, expected ${expected}`);
  }
}

function isAdmin(target: Admin | Kafka): target is Admin {
  return typeof (target as Partial<Kafka>).admin !== 'function';
}

function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: boolean; errors?: { retriable?: boolean }[] };
  if (e.retriable === true) return true;
  return e.errors?.length ? e.errors.every((x) => x.retriable === true) : false;
}

function topicConfig(spec: TopicSpec) {
  return {
    topic: spec.topic,
    numPartitions: spec.partitions,
    ...(spec.replicationFactor === undefined ? {} : { replicationFactor: spec.replicationFactor }),
    ...(spec.configs
      ? { configEntries: Object.entries(spec.configs).map(([name, value]) => ({ name, value })) }
      : {}),
  };
}

/**
 * kafkajs' `ConfigResourceTypes.TOPIC`. A value, not the import: kafkajs' CommonJS index builds its exports in a way
 * Node's ESM loader cannot see, so that named import fails at run time (it only works under a bundler).
 */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/** Per-topic overrides (DYNAMIC_TOPIC_CONFIG), as the broker reports them. */
const TOPIC_OVERRIDE = 1;

/**
 * Alters each spec'd topic whose configs differ from its `configs`. Kafka's AlterConfigs (the one kafkajs speaks)
 * replaces a topic's whole set of overrides, so the topic's current overrides are sent along with the changes.
 */
async function alignConfigs(admin: Admin, specs: readonly TopicSpec[]): Promise<void> {
  const wanted = specs.filter((s) => s.configs && Object.keys(s.configs).length > 0);
  if (wanted.length === 0) return;
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: wanted.map((s) => ({ type: TOPIC_RESOURCE, name: s.topic })),
  });
  const changes = wanted.flatMap((spec) => {
    const entries = resources.find((r) => r.resourceName === spec.topic)?.configEntries ?? [];
    const current = new Map(entries.map((e) => [e.configName, e.configValue]));
    const differs = Object.entries(spec.configs ?? {}).some(([name, value]) => current.get(name) !== value);
    if (!differs) return [];
    const overrides = Object.fromEntries(
      entries.filter((e) => e.configSource === TOPIC_OVERRIDE).map((e) => [e.configName, e.configValue]),
    );
    const merged = { ...overrides, ...spec.configs };
    return [
      {
        type: TOPIC_RESOURCE,
        name: spec.topic,
        configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })),
      },
    ];
  });
  if (changes.length > 0) await admin.alterConfigs({ validateOnly: false, resources: changes });
}

async function ensureAll(
  admin: Admin,
  specs: readonly TopicSpec[],
  options: EnsureTopicOptions,
): Promise<Record<string, number>> {
  const attempts = options.attempts ?? 10;
  const names = specs.map((s) => s.topic);
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = new Set(await admin.listTopics());
      const missing = specs.filter((s) => !existing.has(s.topic));
      // One request for all missing topics; kafkajs answers false, not an error, when another creator won the
      // race since listTopics.
      if (missing.length > 0) {
        await admin.createTopics({ waitForLeaders: true, topics: missing.map(topicConfig) });
      }
      // Metadata may lag a creation made elsewhere (UNKNOWN_TOPIC_OR_PARTITION, or partitions without a leader
      // while they are being elected): both are retried until every partition has a leader.
      const { topics } = await admin.fetchTopicMetadata({ topics: names });
      const counts: Record<string, number> = {};
      for (const spec of specs) {
        const partitions = topics.find((t) => t.name === spec.topic)?.partitions ?? [];
        if (partitions.length === 0 || partitions.some((p) => p.leader < 0)) {
          throw Object.assign(new Error(`topic ${spec.topic} has no leader for every partition yet`), {
            retriable: true,
          });
        }
        if (options.exactPartitions && partitions.length !== spec.partitions) {
          if (!options.onMorePartitions || partitions.length < spec.partitions) {
            throw new TopicMismatchError(spec.topic, partitions.length, spec.partitions);
          }
          options.onMorePartitions(spec.topic, partitions.length, spec.partitions);
        }
        counts[spec.topic] = partitions.length;
      }
      if (options.alterConfigs) await alignConfigs(admin, specs);
      return counts;
    } catch (err) {
      if (!isRetriable(err) || attempt >= attempts) throw err;
      await sleep(Math.min(100 * 2 ** attempt, 2_000));
    }
  }
}

/**
 * Creates `spec` (or each of a list) if it does not exist yet and resolves once every partition has
 * a leader, with the partition count per topic (and, with {@link EnsureTopicOptions.alterConfigs}, its configs
 * aligned to the spec's). Other creators may race this one: "already exists" is success,
 * and a retriable answer is retried a bounded number of times. Given a client rather than a connected admin, it
 * connects an admin of its own for the call.
 */
export async function ensureTopic(
  target: Admin | Kafka,
  spec: TopicSpec | readonly TopicSpec[],
  options: EnsureTopicOptions = {},
): Promise<Record<string, number>> {
  const specs: readonly TopicSpec[] = Array.isArray(spec) ? spec : [spec as TopicSpec];
  if (isAdmin(target)) return ensureAll(target, specs, options);
  const admin = target.admin();
  await admin.connect();
  try {
    return await ensureAll(admin, specs, options);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
