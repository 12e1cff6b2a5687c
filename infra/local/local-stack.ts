import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type KafkaSecurity, PLAINTEXT } from '../../common/client-security.ts';
import { createKafka, ensureTopic, TopicMismatchError } from '../../common/kafka.ts';
import { TOPICS } from '../../common/topics.ts';
import { claimDataDir, dataPaths } from './data-dir.ts';
import { PortInUseError, RuntimeError, ServiceError } from './errors.ts';
import { formattedClusterId, prepareKafkaBroker, runtimeLogger } from './kafka-broker.ts';
import {
  clusterBrokers,
  type KafkaNodePorts,
  kafkaNodePorts,
  prepareKafkaCluster,
  type Replication,
  replicatedTopicSpecs,
  SINGLE_REPLICA,
} from './kafka-cluster.ts';
import {
  assertScramCluster,
  clientSecurityOf,
  ensureLocalSecurity,
  type LocalSecurity,
  recordScramCluster,
  registryAuthDir,
  scramFormatArgs,
  secureBrokerProperties,
} from './kafka-security.ts';
import { assertPortFree, freePort } from './ports.ts';
import { createProgress, type Progress } from './progress.ts';
import { type ProvisionOptions, provision, type Runtime, resolveRuntime } from './provisioner.ts';
import {
  brokerRetentionProperties,
  DEFAULT_RETENTION,
  type RetentionSettings,
  topicRetentionConfigs,
} from './retention.ts';
import { renewRunDir } from './run-dir.ts';
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

/**
 * Partition counts of the topics every stack creates (a topic made before keeps its count: `npm run reset` or
 * `npm start -- --fresh` makes it again). Reactions: 4 on the light profile. Spark reads one task per partition,
 * every job every trigger, and on two cores a task of a few hundred reactions is mostly fixed cost: with 12, the
 * batches took 750 ms at 5,000 reactions/s and end-to-end was 1.4/2.5 s at p50/p99; with 4, 500 ms and 1.2/2.0 s
 * (README, "Where the time goes"). The cluster profile keeps 12 (profiles.ts).
 */
export const DEFAULT_TOPIC_PARTITIONS: Record<string, number> = {
  [TOPICS.reactions]: 4,
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
   * Where logs, pid files (and Kafka's data, without {@link dataDir}) go. Absent: a fresh temp dir, removed by
   * stop(). Given: emptied at start (after reaping processes a killed earlier run left there) except its logs,
   * which move to `logs/previous/`, and kept after stop for its logs.
   */
  runDir?: string;
  /**
   * Where Kafka's log and the registry's database persist across runs (see data-dir.ts); the stack resumes from
   * them and holds the directory while it runs. Absent: both live in the run dir (Kafka) or in memory (registry)
   * and start empty, as tests want.
   */
  dataDir?: string;
  /** Retention of the stack's topics (and the broker's defaults). @default DEFAULT_RETENTION */
  retention?: RetentionSettings;
  progress?: Progress;
  /** Provisioning options; `false` skips provisioning and uses the cache as it is. */
  provision?: ProvisionOptions | false;
  kafkaHeap?: string;
  registryHeap?: string;
  /**
   * A replicated Kafka (kafka-cluster.ts) instead of one broker: `nodes` combined KRaft nodes, node i on
   * {@link kafkaPort} + 2i (controller + 2i + 1), or on free ports without kafkaPort; log dirs under the data dir's
   * `kafka-cluster/`. The stack's topics get `replication`. @default one broker, replication 1
   */
  kafkaCluster?: { nodes: number; replication: Replication; heap?: string };
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
  /**
   * Secured stack (`npm start -- --secure`, EMOSTREAM_SECURE=1; kafka-security.ts): the broker's client listener is
   * SASL_SSL with SCRAM-SHA-512 and a certificate of a CA generated into the data dir's (or run dir's) `security/`,
   * and the registry asks for HTTP basic auth. Clients get their settings from {@link StackAddresses.security}.
   * @default false
   */
  secure?: boolean;
}

/** Where the stack's services listen. */
export interface StackAddresses {
  /** `host:port`, the value of KAFKA_BROKERS. */
  kafkaBrokers: string;
  /** Confluent-compatible base URL (…/apis/ccompat/v7), the value of SCHEMA_REGISTRY_URL. */
  registryUrl: string;
  host: string;
  /** The generated CA and credentials of a {@link StackOptions.secure} stack (clientSecurityOf gives a principal's). */
  security?: LocalSecurity;
}

/** A running stack; `await using stack = await startStack()` stops it at scope end. */
export interface Stack extends StackAddresses {
  runtime: Runtime;
  runDir: string;
  /** The data dir it runs on, if given. */
  dataDir?: string;
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

/**
 * The stack's topics with their exact partition counts, replicated as `replication` says (1 and 1 on one broker).
 * A topic that exists with fewer partitions is an error rather than a silent mismatch; one made with more (an earlier
 * default) is kept, with a warning that says how to make it again.
 */
async function createStackTopics(
  brokers: string,
  topics: Record<string, number>,
  configs: Record<string, string>,
  security: KafkaSecurity,
  replication: Replication = SINGLE_REPLICA,
): Promise<void> {
  const kafka = createKafka({
    clientId: 'emostream-runtime-admin',
    brokers,
    logger: runtimeLogger,
    security,
  });
  const specs = replicatedTopicSpecs(topics, replication, configs);
  try {
    await ensureTopic(kafka, specs, {
      exactPartitions: true,
      alterConfigs: true,
      onMorePartitions: (topic, partitions, asked) =>
        runtimeLogger.warn(
          `topic ${topic} keeps the ${partitions} partitions it was made with (the stack now makes it with ${asked}); ` +
            '`npm run reset` (or `npm start -- --fresh`) wipes the data dir and makes it again',
        ),
    });
  } catch (error) {
    if (error instanceof TopicMismatchError)
      throw new ServiceError('kafka', error.message, undefined, { cause: error });
    throw error;
  }
}
const RUN_DIR_MARKER = '.emostream-run';

/** Makes `runDir` ready for a new run: a given one is renewed (logs kept, see renewRunDir), a new one marked. */
function prepareRunDir(runDir: string, own: boolean, progress: Progress): void {
  if (!own && existsSync(runDir) && readdirSync(runDir).length > 0) {
    // Wiping is only safe for a directory an earlier stack made, never for a mistyped --run-dir.
    if (!existsSync(path.join(runDir, RUN_DIR_MARKER))) {
      throw new RuntimeError(
        `refusing to use ${runDir} as run dir: it is not empty and was not made by a stack`,
      );
    }
    const reaped = reapStale(runDir);
    if (reaped.length) progress.info(`stopped leftovers of an earlier run: ${reaped.join(', ')}`);
    const previous = renewRunDir(runDir);
    if (previous) progress.info(`logs of the previous run: ${previous}`);
  }
  mkdirSync(runDir, { recursive: true });
  writeFileSync(
    path.join(runDir, RUN_DIR_MARKER),
    'Made by EmoStream startStack(); wiped on the next start (logs/ moves to logs/previous/).\n',
  );
}

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

  // Claimed first: a second stack on the same data dir is refused before it touches the first one's run dir.
  const data = options.dataDir ? dataPaths(options.dataDir) : undefined;
  const releaseData = data ? claimDataDir(data.root) : () => {};
  const ownRunDir = !options.runDir;
  const runDir = options.runDir ?? mkdtempSync(path.join(tmpdir(), 'emostream-stack-'));
  try {
    prepareRunDir(runDir, ownRunDir, progress);
  } catch (error) {
    releaseData();
    throw error;
  }

  const started: RunningService[] = [];
  const cleanup = async () => {
    await stopServices(started);
    releaseData();
    // A temp run dir goes with the stack unless someone wants to read its logs afterwards.
    if (ownRunDir && !process.env.EMOSTREAM_KEEP_RUN_DIR) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const cluster = options.kafkaCluster;
    if (cluster && options.secure)
      throw new RuntimeError(
        'the secured stack (--secure) runs one broker; the cluster profile does not take --secure yet: drop one of them',
      );
    let kafkaPort = 0;
    let controllerPort = 0;
    let nodes: KafkaNodePorts[] = [];
    if (cluster) {
      nodes = options.kafkaPort
        ? kafkaNodePorts(options.kafkaPort, cluster.nodes)
        : await Promise.all(
            Array.from({ length: cluster.nodes }, async () => ({
              port: await freePort(host),
              controllerPort: await freePort(host),
            })),
          );
      for (const [i, n] of nodes.entries()) {
        if (options.kafkaPort) await assertPortFree(`Kafka node ${i + 1}`, host, n.port);
        if (options.kafkaPort) await assertPortFree(`Kafka node ${i + 1} controller`, host, n.controllerPort);
      }
      if (new Set(nodes.flatMap((n) => [n.port, n.controllerPort])).size !== nodes.length * 2) {
        throw new RuntimeError('the Kafka cluster was handed the same free port twice; start again');
      }
    } else {
      kafkaPort = await choosePort('Kafka broker', host, options.kafkaPort);
      controllerPort = await choosePort('Kafka controller', host, options.kafkaControllerPort);
      if (controllerPort === kafkaPort) throw new PortInUseError('Kafka controller', host, controllerPort);
    }
    const registryPort = await choosePort('Schema registry', host, options.registryPort);
    const managementPort = await choosePort(
      'Schema registry management',
      host,
      options.registryManagementPort,
    );

    // Made once and kept with the data (or the run, without a data dir), so a resumed broker keeps its credentials.
    const security = options.secure
      ? await progress.step('security material', async (update) => {
          const dir = data?.security ?? path.join(runDir, 'security');
          update(`CA, broker keystore and credentials in ${dir}`);
          return ensureLocalSecurity(runtime.toolchain.kafkaJdk.java, dir, host);
        })
      : undefined;
    // The runtime's own admin calls: the admin principal on a secured stack, else explicitly PLAINTEXT (whatever
    // this process's KAFKA_* variables say, the stack it started is what it talks to).
    const adminSecurity = security ? clientSecurityOf(security, 'admin').kafka : PLAINTEXT;

    // Kafka and the registry do not need each other (the registry keeps its schemas in H2, in memory or in the
    // data dir): both start at once. Settled, not raced: a failure of one must wait for the other to land in `started`, to be stopped.
    const registrySpec = schemaRegistrySpec(runtime, {
      host,
      port: registryPort,
      managementPort,
      heap: options.registryHeap,
      storageDir: data?.registry,
      ...(security
        ? {
            auth: {
              workDir: registryAuthDir(security),
              username: security.registry.username,
              password: security.registry.password,
            },
          }
        : {}),
    });
    if (data) mkdirSync(data.registry, { recursive: true });
    const retention = options.retention ?? DEFAULT_RETENTION;
    // Started on their own, beside the one broker's code below: a cluster's nodes start together (kafka-cluster.ts).
    const clusterKafka = async (
      cluster: NonNullable<StackOptions['kafkaCluster']>,
      update: (s: string) => void,
    ) => {
      const dataRoot = data ? path.join(data.root, 'kafka-cluster') : undefined;
      const specs = await prepareKafkaCluster(runtime, runDir, {
        host,
        nodes,
        replication: cluster.replication,
        heap: cluster.heap,
        dataRoot,
        properties: brokerRetentionProperties(retention),
      });
      update(`starting ${specs.map((s) => s.name).join(', ')} (a quorum needs a majority of them)`);
      // All at once: a node has no active controller, so is not ready, before a majority of voters is up.
      const running = await Promise.allSettled(
        specs.map((spec) => startService(spec, runDir, { restart: options.restart })),
      );
      for (const r of running) if (r.status === 'fulfilled') started.push(r.value);
      const failed = running.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      const topics = options.topics ?? DEFAULT_TOPIC_PARTITIONS;
      update(
        `creating topics ${Object.keys(topics).join(', ')} (replication ${cluster.replication.factor}, ` +
          `min ISR ${cluster.replication.minInsync})`,
      );
      const brokers = clusterBrokers(host, nodes);
      await createStackTopics(
        brokers,
        topics,
        topicRetentionConfigs(retention),
        adminSecurity,
        cluster.replication,
      );
      return { addresses: { brokers } };
    };
    const kafkaTitle = cluster
      ? `Kafka cluster of ${cluster.nodes} nodes on ${clusterBrokers(host, nodes)}`
      : `Kafka on ${host}:${kafkaPort}`;
    const [kafka, registry] = await Promise.allSettled([
      progress.step(kafkaTitle, async (update) => {
        if (cluster) return clusterKafka(cluster, update);
        const resumed = data && formattedClusterId(data.kafka);
        if (resumed && security && data) assertScramCluster(security, resumed, data.kafka);
        update(resumed ? `resuming cluster ${resumed}` : 'formatting storage');
        const listener = { host, port: kafkaPort, controllerPort };
        const spec = await prepareKafkaBroker(runtime, runDir, {
          ...listener,
          heap: options.kafkaHeap,
          logDir: data?.kafka,
          properties: {
            ...brokerRetentionProperties(retention),
            ...(security ? secureBrokerProperties(security, listener) : {}),
          },
          ...(security ? { formatArgs: scramFormatArgs(security) } : {}),
          clientSecurity: adminSecurity,
        });
        if (security && data && !resumed) {
          const formatted = formattedClusterId(data.kafka);
          if (formatted) recordScramCluster(security, formatted);
        }
        update('starting broker');
        started.push(await startService(spec, runDir, { restart: options.restart }));
        const topics = options.topics ?? DEFAULT_TOPIC_PARTITIONS;
        update(`creating topics ${Object.keys(topics).join(', ')}`);
        await createStackTopics(
          `${host}:${kafkaPort}`,
          topics,
          topicRetentionConfigs(retention),
          adminSecurity,
        );
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
      ...(security ? { security } : {}),
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
      ...(data ? { dataDir: data.root } : {}),
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
