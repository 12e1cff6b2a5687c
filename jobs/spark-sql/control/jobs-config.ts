import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { type ClientSecurity, clientSecurityFromEnv } from '../../../common/client-security.ts';
import { ConfigError } from '../../../common/env.ts';
import { defaultTopic, TOPICS } from '../../../common/topics.ts';
import { cacheDir } from '../../../infra/local/cache-dir.ts';
import { DEFAULT_PORTS } from '../../../infra/local/local-stack.ts';

/** Where the shipped jobs live. */
export const JOBS_DIR = fileURLToPath(new URL('../', import.meta.url));
/** The generic PySpark runner every job goes through. */
export const RUNNER = path.join(JOBS_DIR, 'runner.py');
/** The generic PyFlink runner of jobs on the Flink engine. */
export const FLINK_RUNNER = path.join(JOBS_DIR, 'flink_runner.py');
/** Quiet driver logging (warnings only). */
export const LOG4J_CONFIG = path.join(JOBS_DIR, 'log4j2.properties');
/** Schemas directory (source of truth of the Avro contracts). */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));

/**
 * Heap of a local Spark driver (`spark.driver.memory`, its JVM's -Xmx). In local mode the driver is also the
 * executor; the bound keeps two jobs' drivers beside Kafka and the registry within a laptop's memory under load.
 * `npm run load -- --rate 2000 --viewers 200 --duration 30 --matches 4` (the README's run) passes with it; raise it
 * with SPARK_DRIVER_MEMORY for benchmarks at higher rates.
 */
export const DEFAULT_DRIVER_MEMORY = '512m';

/** Configuration of the job scripts, read from the environment once. */
export interface JobsConfig {
  /** `KAFKA_BROKERS`, comma list. */
  brokers: string;
  /** `SCHEMA_REGISTRY_URL`, Confluent-compatible base URL. */
  registryUrl: string;
  /** `SPARK_MASTER`. @default local[2] */
  master: string;
  /** `SPARK_UI_PORT`: a port, or `off`. @default off */
  uiPort: string;
  /**
   * Logical topic names → Kafka topics set by the environment: every name of {@link TOPICS} (its default, or
   * `<NAME>_TOPIC`: `REACTIONS_TOPIC`, `AGGREGATES_TOPIC`, …) and every other `<NAME>_TOPIC` given (`TRENDS_TOPIC`).
   * A logical name not here is {@link defaultTopic}'s `emoji.<name>.v1` (see `topicOf`).
   */
  topics: Record<string, string>;
  /** `SPARK_JOBS_STATE`: run directories (pid, status, progress, driver log). @default <cache>/spark-jobs */
  stateDir: string;
  /** `SPARK_CHECKPOINT_ROOT`: a path or URI every driver can reach. @default <stateDir>/checkpoints */
  checkpointRoot: string;
  /** `SPARK_STARTING_OFFSETS` for a fresh checkpoint. @default earliest (a new shape recounts what the topic holds) */
  startingOffsets: 'earliest' | 'latest';
  /** `SPARK_MAX_OFFSETS_PER_TRIGGER`: bounds a micro-batch after downtime; unset = no bound. */
  maxOffsetsPerTrigger: number | undefined;
  /**
   * `SPARK_DRIVER_OUTPUT`: where spark-submit's output goes — `file` (driver.log in the run directory) or `inherit`
   * (this process's stdout/stderr, for a container whose logs are its output). @default file
   */
  driverOutput: 'file' | 'inherit';
  /** `SPARK_DRIVER_MEMORY`: the driver JVM's heap (`spark.driver.memory`). @default {@link DEFAULT_DRIVER_MEMORY} */
  driverMemory: string;
  /**
   * `SPARK_UNSAFE_DROP_DEDUPE=1`, for tests only: every plan drops its source's dedupe key, so a redelivered
   * reaction counts twice. It exists so the chaos test can prove it notices a missing dedupe; the changed shape
   * gets a checkpoint of its own. @default false
   */
  dropDedupe: boolean;
  /**
   * How the launcher's admin and registry calls and the driver's Kafka source and sink authenticate:
   * KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CA_FILE, SCHEMA_REGISTRY_USERNAME/PASSWORD(_FILE)
   * (common/client-security.ts). @default PLAINTEXT, no credentials
   */
  security: ClientSecurity;
  /** Settings of the Flink engine (jobs whose yml lists `flink`). */
  flink: FlinkConfig;
}

/** Where and how jobs on Flink run. */
export interface FlinkConfig {
  /**
   * `FLINK_REST_ADDRESS`: `host:port` of a Flink cluster's REST endpoint (its JobManager) to submit to; its
   * checkpoints then need a root every TaskManager reaches (`SPARK_CHECKPOINT_ROOT` as a URI). @default unset: a
   * local mini-cluster inside the runner's process, checkpointing to the local checkpoint root
   */
  restAddress: string | undefined;
  /** `FLINK_PARALLELISM`: parallelism of the job's operators. @default 1 */
  parallelism: number;
  /** `FLINK_CHECKPOINT_INTERVAL`: how often state and offsets are checkpointed. @default 5 seconds */
  checkpointInterval: string;
}

/** `<NAME>_TOPIC` variable of a logical topic name. */
const topicVariable = (logical: string) => `${logical.toUpperCase()}_TOPIC`;

function topicVariables() {
  return Object.fromEntries(
    Object.entries(TOPICS).map(([logical, topic]) => [
      topicVariable(logical),
      z.string().min(1).default(topic),
    ]),
  ) as Record<string, z.ZodDefault<z.ZodString>>;
}

const EnvSchema = z.object({
  KAFKA_BROKERS: z.string().regex(/^[^,\s]+(,[^,\s]+)*$/, 'comma list of host:port'),
  SCHEMA_REGISTRY_URL: z.url(),
  SPARK_MASTER: z.string().min(1).default('local[2]'),
  SPARK_UI_PORT: z
    .string()
    .regex(/^(off|\d{1,5})$/, 'a port number or off')
    .default('off'),
  ...topicVariables(),
  SPARK_JOBS_STATE: z.string().min(1).optional(),
  SPARK_CHECKPOINT_ROOT: z.string().min(1).optional(),
  SPARK_STARTING_OFFSETS: z.enum(['earliest', 'latest']).default('earliest'),
  SPARK_MAX_OFFSETS_PER_TRIGGER: z.coerce.number().int().positive().optional(),
  SPARK_DRIVER_OUTPUT: z.enum(['file', 'inherit']).default('file'),
  SPARK_DRIVER_MEMORY: z
    .string()
    .regex(/^\d+[kmgt]$/i, 'a JVM memory size such as 512m or 2g')
    .default(DEFAULT_DRIVER_MEMORY),
  SPARK_UNSAFE_DROP_DEDUPE: z.enum(['0', '1']).default('0'),
  FLINK_REST_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'host:port of a Flink REST endpoint')
    .optional(),
  FLINK_PARALLELISM: z.coerce.number().int().positive().default(1),
  FLINK_CHECKPOINT_INTERVAL: z
    .string()
    .regex(/^\d+ (millisecond|second|minute)s?$/, 'an interval such as "5 seconds"')
    .default('5 seconds'),
});

/** Defaults for local use: the brokers and registry that `npm start` runs. */
const LOCAL_DEFAULTS = {
  KAFKA_BROKERS: `127.0.0.1:${DEFAULT_PORTS.kafka}`,
  SCHEMA_REGISTRY_URL: `http://127.0.0.1:${DEFAULT_PORTS.registry}/apis/ccompat/v7`,
};

/** Parses the job scripts' configuration; every bad variable is named in one {@link ConfigError} (common/env.ts). */
export function loadJobsConfig(env: NodeJS.ProcessEnv = process.env): JobsConfig {
  const parsed = EnvSchema.safeParse({ ...LOCAL_DEFAULTS, ...stripEmpty(env) });
  if (!parsed.success) {
    throw new ConfigError(
      'Spark job',
      parsed.error.issues.map((i) => ({ variable: i.path.join('.'), message: i.message })),
    );
  }
  const e = parsed.data;
  const security = clientSecurityFromEnv(env, 'Spark job');
  const stateDir = path.resolve(e.SPARK_JOBS_STATE ?? path.join(cacheDir(env), 'spark-jobs'));
  return {
    brokers: e.KAFKA_BROKERS,
    registryUrl: e.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''),
    master: e.SPARK_MASTER,
    uiPort: e.SPARK_UI_PORT,
    topics: {
      ...Object.fromEntries(
        Object.entries(env).flatMap(([name, value]) => {
          const logical = /^([A-Z][A-Z0-9_]*)_TOPIC$/.exec(name)?.[1]?.toLowerCase();
          return logical && value ? [[logical, value]] : [];
        }),
      ),
      ...Object.fromEntries(
        Object.keys(TOPICS).map((logical) => [
          logical,
          String((e as Record<string, unknown>)[topicVariable(logical)]),
        ]),
      ),
    },
    stateDir,
    checkpointRoot: e.SPARK_CHECKPOINT_ROOT ?? path.join(stateDir, 'checkpoints'),
    startingOffsets: e.SPARK_STARTING_OFFSETS,
    maxOffsetsPerTrigger: e.SPARK_MAX_OFFSETS_PER_TRIGGER,
    driverOutput: e.SPARK_DRIVER_OUTPUT,
    driverMemory: e.SPARK_DRIVER_MEMORY,
    dropDedupe: e.SPARK_UNSAFE_DROP_DEDUPE === '1',
    security,
    flink: {
      restAddress: e.FLINK_REST_ADDRESS,
      parallelism: e.FLINK_PARALLELISM,
      checkpointInterval: e.FLINK_CHECKPOINT_INTERVAL,
    },
  };
}

function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((kv): kv is [string, string] => !!kv[1]));
}
