import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createKafka, ensureTopic, TopicMismatchError } from '../../common/kafka.ts';
import { TOPICS } from '../../common/topics.ts';
import { PortInUseError, RuntimeError, ServiceError } from './errors.ts';
import { prepareKafkaBroker, runtimeLogger } from './kafka-broker.ts';
import { assertPortFree, freePort } from './ports.ts';
import { createProgress, type Progress } from './progress.ts';
import { type ProvisionOptions, provision, type Runtime, resolveRuntime } from './provisioner.ts';
import { schemaRegistrySpec } from './schema-registry.ts';
import {
  type RestartPolicy,
  type RunningService,
  reapStale,
  type ServiceSpec,
  startService,
  startServices,
  stopServices,
} from './supervisor.ts';

/** Ports of `npm run stack` / `npm start`. Library callers get free ports unless they pass these. */
export const DEFAULT_PORTS = { kafka: 9092, kafkaController: 9093, registry: 8081, ingest: 8080 } as const;

/** Partition counts of the topics every stack creates. */
export const DEFAULT_TOPIC_PARTITIONS: Record<string, number> = {
  [TOPICS.reactions]: 12,
  [TOPICS.aggregates]: 6,
  [TOPICS.fanout]: 6,
};

export interface StackOptions {
  /** Loopback address to bind. @default '127.0.0.1' */
  host?: string;
  /** Broker port; 0 or absent picks a free one. */
  kafkaPort?: number;
  /** KRaft controller port; 0 or absent picks a free one. */
  kafkaControllerPort?: number;
  /** Registry HTTP port; 0 or absent picks a free one. */
  registryPort?: number;
  /** Registry management (health/metrics) port; 0 or absent picks a free one. */
  registryManagementPort?: number;
  /** Topic → partitions, created once Kafka is ready. @default DEFAULT_TOPIC_PARTITIONS */
  topics?: Record<string, number>;
  /**
   * Where logs, pid files and Kafka's data go. Absent: a fresh temp dir, removed by stop(). Given: emptied at
   * start (after reaping processes a killed earlier run left there) and kept after stop for its logs.
   */
  runDir?: string;
  progress?: Progress;
  /** Provisioning options; `false` skips provisioning and uses the cache as it is. */
  provision?: ProvisionOptions | false;
  kafkaHeap?: string;
  registryHeap?: string;
  /**
   * More services started after Kafka and the registry (e.g. ingest), given the addresses of those; each as soon
   * as the ones it comes {@link ServiceSpec.after} are ready (by default the one before it).
   */
  extraServices?: (ctx: StackAddresses & { runtime: Runtime; runDir: string }) => ServiceSpec[];
  /**
   * Restart every service (Kafka and the registry included) that exits on its own after it was ready
   * (supervisor.ts). `npm start`/`npm run stack` pass {@link DEFAULT_RESTART_POLICY}. @default no restarts
   */
  restart?: RestartPolicy;
}

/** Where the stack's services listen. */
export interface StackAddresses {
  /** `host:port`, the value of KAFKA_BROKERS. */
  kafkaBrokers: string;
  /** Confluent-compatible base URL (…/apis/ccompat/v7), the value of SCHEMA_REGISTRY_URL. */
  registryUrl: string;
  host: string;
}

/** A running stack; `await using stack = await startStack()` stops it at scope end. */
export interface Stack extends StackAddresses {
  runtime: Runtime;
  runDir: string;
  services: RunningService[];
  /** Log file per service name. */
  logs: Record<string, string>;
  /**
   * Resolves with the first service that is down for good on its own: any exit without a restart policy, a crash
   * loop with one (`failure` then says why, with the log's last lines). For foreground runners to react.
   */
  firstExit: Promise<{ service: string; code: number | null; failure?: ServiceError }>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function choosePort(service: string, host: string, wanted: number | undefined): Promise<number> {
  if (!wanted) return freePort(host);
  await assertPortFree(service, host, wanted);
  return wanted;
}

const SERVICE_NAMES = ['kafka', 'registry'];

/**
 * The stack's topics with their exact partition counts (replication 1: one broker). A topic that exists with
 * another count is an error rather than a silent mismatch.
 */
async function createStackTopics(brokers: string, topics: Record<string, number>): Promise<void> {
  const kafka = createKafka({ clientId: 'emostream-runtime-admin', brokers, logger: runtimeLogger });
  const specs = Object.entries(topics).map(([topic, partitions]) => ({
    topic,
    partitions,
    replicationFactor: 1,
  }));
  try {
    await ensureTopic(kafka, specs, { exactPartitions: true });
  } catch (error) {
    if (error instanceof TopicMismatchError)
      throw new ServiceError('kafka', error.message, undefined, { cause: error });
    throw error;
  }
}
const RUN_DIR_MARKER = '.emostream-run';

/**
 * Provisions (unless told not to), then starts Kafka (KRaft, one combined node) and Apicurio Registry together as
 * child processes on loopback, creates the topics, starts the extra services, and returns their addresses. Any
 * failure stops what was started.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const progress = options.progress ?? createProgress();
  const host = options.host ?? '127.0.0.1';
  const runtime =
    options.provision === false
      ? await resolveRuntime()
      : await provision({ progress, ...options.provision });

  const ownRunDir = !options.runDir;
  const runDir = options.runDir ?? mkdtempSync(path.join(tmpdir(), 'emostream-stack-'));
  if (!ownRunDir && existsSync(runDir) && readdirSync(runDir).length > 0) {
    // Wiping is only safe for a directory an earlier stack made, never for a mistyped --run-dir.
    if (!existsSync(path.join(runDir, RUN_DIR_MARKER))) {
      throw new RuntimeError(
        `refusing to use ${runDir} as run dir: it is not empty and was not made by a stack`,
      );
    }
    const reaped = reapStale(runDir, [...SERVICE_NAMES, 'ingest']);
    if (reaped.length) progress.info(`stopped leftovers of an earlier run: ${reaped.join(', ')}`);
    rmSync(runDir, { recursive: true, force: true });
  }
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    path.join(runDir, RUN_DIR_MARKER),
    'Made by EmoStream startStack(); wiped on the next start.\n',
  );

  const started: RunningService[] = [];
  const cleanup = async () => {
    await stopServices(started);
    // A temp run dir goes with the stack unless someone wants to read its logs afterwards.
    if (ownRunDir && !process.env.EMOSTREAM_KEEP_RUN_DIR) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const kafkaPort = await choosePort('Kafka broker', host, options.kafkaPort);
    const controllerPort = await choosePort('Kafka controller', host, options.kafkaControllerPort);
    if (controllerPort === kafkaPort) throw new PortInUseError('Kafka controller', host, controllerPort);
    const registryPort = await choosePort('Schema registry', host, options.registryPort);
    const managementPort = await choosePort(
      'Schema registry management',
      host,
      options.registryManagementPort,
    );

    // Kafka and the registry do not need each other (the registry keeps its schemas in memory): both start at
    // once. Settled, not raced: a failure of one must wait for the other to land in `started`, to be stopped.
    const registrySpec = schemaRegistrySpec(runtime, {
      host,
      port: registryPort,
      managementPort,
      heap: options.registryHeap,
    });
    const [kafka, registry] = await Promise.allSettled([
      progress.step(`Kafka on ${host}:${kafkaPort}`, async (update) => {
        update('formatting storage');
        const spec = await prepareKafkaBroker(runtime, runDir, {
          host,
          port: kafkaPort,
          controllerPort,
          heap: options.kafkaHeap,
        });
        update('starting broker');
        started.push(await startService(spec, runDir, { restart: options.restart }));
        const topics = options.topics ?? DEFAULT_TOPIC_PARTITIONS;
        update(`creating topics ${Object.keys(topics).join(', ')}`);
        await createStackTopics(`${host}:${kafkaPort}`, topics);
        return spec;
      }),
      progress.step(`Schema registry on ${host}:${registryPort}`, async (update) => {
        update('starting Apicurio Registry');
        started.push(await startService(registrySpec, runDir, { restart: options.restart }));
      }),
    ]);
    if (kafka.status === 'rejected') throw kafka.reason;
    if (registry.status === 'rejected') throw registry.reason;
    const kafkaSpec = kafka.value;

    const addresses: StackAddresses = {
      host,
      kafkaBrokers: kafkaSpec.addresses?.brokers ?? `${host}:${kafkaPort}`,
      registryUrl: registrySpec.addresses?.url ?? '',
    };
    const extras = options.extraServices?.({ ...addresses, runtime, runDir }) ?? [];
    started.push(
      ...(await startServices(extras, runDir, {
        step: (spec, start) => progress.step(spec.name, start),
        restart: options.restart,
      })),
    );

    let stopping: Promise<void> | undefined;
    // A stop makes every service exit: that is no crash to report, so firstExit stays pending then.
    const firstExit = Promise.race(
      started.map((s) =>
        s.exited.then(async (code) => {
          if (stopping) await new Promise(() => {});
          return { service: s.name, code, ...(s.failure ? { failure: s.failure } : {}) };
        }),
      ),
    );
    const stop = () => {
      stopping ??= cleanup();
      return stopping;
    };
    return {
      ...addresses,
      runtime,
      runDir,
      services: started,
      logs: Object.fromEntries(started.map((s) => [s.name, s.logFile])),
      firstExit,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
