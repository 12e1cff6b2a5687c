/**
 * Profiles of the local runtime (`npm start -- --profile <name>`, or EMOSTREAM_PROFILE):
 *
 * - `light` (the default): one of everything, as `npm start` always ran: one Kafka broker (replication 1), Spark
 *   `local[2]`, one ingest, one main publisher.
 * - `cluster`: the same pipeline as a small cluster on loopback: three KRaft nodes (replication 3, min ISR 2;
 *   kafka-cluster.ts), a Spark standalone master and two workers (spark-standalone.ts) the jobs are submitted to,
 *   two ingest replicas and two main publishers behind HAProxy (haproxy.ts), 2 clusters × 2 subscriber nodes.
 *
 * {@link clusterPipelineSpecs} turns the light pipeline's specs (pipeline-services.ts) into the cluster's, so the
 * services themselves are configured in one place. Main publishers are active–active: each reads every aggregate
 * (a consumer group of its own) and routes each window to the clusters its directory knows nodes of; a window
 * routed by both arrives twice at a cluster publisher, a repeat of the same full state, which it does not relay
 * again (common/window-state.ts). A node's heartbeat goes through HAProxy to either instance; the matches of a
 * node known to only one are routed by that one, and when it dies the node's next heartbeat (1 s) reaches the
 * other, so killing either keeps the directory answering and every match routed.
 */
import path from 'node:path';
import { TOPICS } from '../../common/topics.ts';
import { clusterTopic } from '../../fanout/index.ts';
import { RuntimeError } from './errors.ts';
import { type BalancedService, haproxySpec } from './haproxy.ts';
import { CLUSTER_REPLICATION, type Replication } from './kafka-cluster.ts';
import { DEFAULT_TOPIC_PARTITIONS } from './local-stack.ts';
import { DEFAULT_TOPOLOGY, type PipelinePorts } from './pipeline-services.ts';
import { freePort } from './ports.ts';
import type { Runtime } from './provisioner.ts';
import { sparkStandaloneSpecs, sparkWorkerName } from './spark-standalone.ts';
import { sparkRuntimeOf } from './spark-submit.ts';
import type { ServiceSpec } from './supervisor.ts';

export const PROFILES = ['light', 'cluster'] as const;
export type ProfileName = (typeof PROFILES)[number];

/** `--profile` over `EMOSTREAM_PROFILE` over `light`. */
export function profileFrom(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): ProfileName {
  const value = flags.profile ?? env.EMOSTREAM_PROFILE ?? 'light';
  if (typeof value === 'string' && (PROFILES as readonly string[]).includes(value))
    return value as ProfileName;
  throw new RuntimeError(`--profile must be one of ${PROFILES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** The shape of the cluster profile. */
export const CLUSTER_PROFILE = {
  kafka: { nodes: 3, replication: CLUSTER_REPLICATION as Replication, heap: '512m' },
  ingestReplicas: 2,
  mainPublishers: 2,
  // Every job (jobs.yml has two) gets one 1-core executor on each worker, so both workers run tasks of every batch;
  // a worker offers a core per job (two on a two-core machine, as the light profile's two local[2] drivers had).
  spark: {
    workers: 2,
    coresPerWorker: 2,
    executorCores: 1,
    coresPerApp: 2,
    memoryPerWorker: '1536m',
    executorMemory: '640m',
  },
} as const;

/** Partitions of the reactions topic on the cluster profile (the light profile has 4: local-stack.ts). */
export const CLUSTER_REACTIONS_PARTITIONS = 12;

/** Partitions of a per-cluster fan-out topic, as the publishers create it (FANOUT_TOPIC_PARTITIONS' default). */
const FANOUT_CLUSTER_PARTITIONS = 3;

/**
 * The stack's topics plus the per-cluster fan-out topics, created with the stack. On three brokers a topic one
 * publisher has just created can be unknown to the broker another client asks next (metadata reaches each broker a
 * little later), and a cluster publisher that subscribes at that moment fails its start; made with the stack, the
 * topics are known everywhere before any publisher starts.
 */
export function clusterProfileTopics(
  clusters: readonly string[] = DEFAULT_TOPOLOGY.clusters,
): Record<string, number> {
  return {
    ...DEFAULT_TOPIC_PARTITIONS,
    // Spread over three brokers and two workers' executors, as a cluster would (4 per broker).
    [TOPICS.reactions]: CLUSTER_REACTIONS_PARTITIONS,
    ...Object.fromEntries(clusters.map((c) => [clusterTopic(TOPICS.fanout, c), FANOUT_CLUSTER_PARTITIONS])),
  };
}

/** Ports the cluster profile adds to the pipeline's (whose ingest and directory ports become HAProxy's fronts). */
export interface ClusterPorts {
  haproxyStats: number;
  ingestReplicas: number[];
  mainPublishers: number[];
  sparkMaster: number;
  sparkMasterUi: number;
  sparkWorkers: { port: number; uiPort: number }[];
}

/**
 * Fixed ports of `npm start -- --profile cluster`: ingest replicas on the front's port + 100 + i (8180, 8181),
 * main publishers likewise (8190, 8191), HAProxy's stats on 8404, the Spark master on 7077 with its UI on 8480,
 * workers on 7078–7079 with UIs on 8481–8482.
 */
export function defaultClusterPorts(pipeline: PipelinePorts): ClusterPorts {
  const { ingestReplicas, mainPublishers, spark } = CLUSTER_PROFILE;
  return {
    haproxyStats: 8404,
    ingestReplicas: Array.from({ length: ingestReplicas }, (_, i) => pipeline.ingest + 100 + i),
    mainPublishers: Array.from({ length: mainPublishers }, (_, i) => pipeline.main + 100 + i),
    sparkMaster: 7077,
    sparkMasterUi: 8480,
    sparkWorkers: Array.from({ length: spark.workers }, (_, i) => ({ port: 7078 + i, uiPort: 8481 + i })),
  };
}

/** Free loopback ports for every port of {@link ClusterPorts} (tests, the chaos suite). */
export async function freeClusterPorts(host = '127.0.0.1'): Promise<ClusterPorts> {
  const { ingestReplicas, mainPublishers, spark } = CLUSTER_PROFILE;
  const many = (n: number) => Promise.all(Array.from({ length: n }, () => freePort(host)));
  return {
    haproxyStats: await freePort(host),
    ingestReplicas: await many(ingestReplicas),
    mainPublishers: await many(mainPublishers),
    sparkMaster: await freePort(host),
    sparkMasterUi: await freePort(host),
    sparkWorkers: await Promise.all(
      Array.from({ length: spark.workers }, async () => ({
        port: await freePort(host),
        uiPort: await freePort(host),
      })),
    ),
  };
}

/** Every port of {@link ClusterPorts} with what listens there, for the start-up port check. */
export function clusterPortList(ports: ClusterPorts): [string, number][] {
  return [
    ['HAProxy stats', ports.haproxyStats],
    ...ports.ingestReplicas.map((p, i): [string, number] => [`ingest replica ${i + 1}`, p]),
    ...ports.mainPublishers.map((p, i): [string, number] => [`main publisher ${i + 1}`, p]),
    ['Spark master', ports.sparkMaster],
    ['Spark master UI', ports.sparkMasterUi],
    ...ports.sparkWorkers.flatMap((w, i): [string, number][] => [
      [`Spark worker ${i + 1}`, w.port],
      [`Spark worker ${i + 1} UI`, w.uiPort],
    ]),
  ];
}

/** What {@link clusterPipelineSpecs} needs besides the light specs. */
export interface ClusterSetup {
  host: string;
  clusterPorts: ClusterPorts;
  runtime: Runtime;
  runDir: string;
  haproxy: string;
}

const ok = async (url: string, signal: AbortSignal) => {
  const res = await fetch(url, { signal });
  await res.body?.cancel();
  return res.ok;
};

function byName(specs: readonly ServiceSpec[], name: string): ServiceSpec {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new RuntimeError(`the pipeline has no ${name} service to replicate`);
  return spec;
}

/** `count` copies of `spec` on `ports`, each named `<name>-<n>` and probed on its own `/ready`. */
function replicas(
  spec: ServiceSpec,
  host: string,
  ports: readonly number[],
  env: (port: number, n: number) => Record<string, string>,
): ServiceSpec[] {
  return ports.map((port, i) => {
    const url = `http://${host}:${port}`;
    return {
      ...spec,
      name: `${spec.name}-${i + 1}`,
      env: { ...spec.env, ...env(port, i + 1) },
      addresses: { url },
      ready: (signal) => ok(`${url}/ready`, signal),
    };
  });
}

/**
 * The cluster profile's services from the light pipeline's `specs`: HAProxy first, the Spark master and workers,
 * ingest and the main publisher replicated behind HAProxy (their URLs in every other service's environment are
 * HAProxy's fronts already: the light ports), the Spark jobs submitted to the master, and the rest as they are.
 */
export function clusterPipelineSpecs(specs: readonly ServiceSpec[], setup: ClusterSetup): ServiceSpec[] {
  const { host, clusterPorts: ports } = setup;
  const ingest = byName(specs, 'ingest');
  const main = byName(specs, 'main-publisher');
  const ingests = replicas(ingest, host, ports.ingestReplicas, (port, n) => ({
    INGEST_PORT: String(port),
    // One dead-letter file per writer: two processes rotating one file would lose lines.
    INGEST_DEAD_LETTER_DIR: path.join(String(ingest.env?.INGEST_DEAD_LETTER_DIR), `ingest-${n}`),
  }));
  const mains = replicas(main, host, ports.mainPublishers, (port, n) => ({
    FANOUT_MAIN_PORT: String(port),
    // Active–active: each instance reads every aggregate.
    FANOUT_MAIN_GROUP_ID: `${main.env?.FANOUT_MAIN_GROUP_ID ?? 'emostream-fanout-main'}-${n}`,
  }));
  const balanced: BalancedService[] = [
    // The light pipeline's ports become HAProxy's fronts: every other service already points at them.
    { name: 'ingest', front: Number(ingest.env?.INGEST_PORT), replicas: ingests.map(toServer) },
    { name: 'directory', front: Number(main.env?.FANOUT_MAIN_PORT), replicas: mains.map(toServer) },
  ];
  const proxy = haproxySpec(setup.haproxy, setup.runDir, {
    host,
    services: balanced,
    statsPort: ports.haproxyStats,
  });
  const spark = sparkStandaloneSpecs(sparkRuntimeOf(setup.runtime), path.join(setup.runDir, 'spark-conf'), {
    host,
    masterPort: ports.sparkMaster,
    masterUiPort: ports.sparkMasterUi,
    workers: ports.sparkWorkers,
    coresPerWorker: CLUSTER_PROFILE.spark.coresPerWorker,
    executorCores: CLUSTER_PROFILE.spark.executorCores,
    coresPerApp: CLUSTER_PROFILE.spark.coresPerApp,
    memoryPerWorker: CLUSTER_PROFILE.spark.memoryPerWorker,
    executorMemory: CLUSTER_PROFILE.spark.executorMemory,
    workDir: path.join(setup.runDir, 'spark-workers'),
  });
  const sparkCluster = ['spark-master', ...ports.sparkWorkers.map((_, i) => sparkWorkerName(i + 1))];
  const mainNames = mains.map((m) => m.name);
  const rest = specs.flatMap((s): ServiceSpec[] => {
    if (s === ingest) return ingests;
    if (s === main) return mains;
    if (s.name.startsWith('spark-job')) {
      return [{ ...s, env: { ...s.env, ...spark.jobEnv }, after: [...(s.after ?? []), ...sparkCluster] }];
    }
    // Nodes come after the main publisher: now after both, and after HAProxy, their way to the directory.
    const after = s.after?.flatMap((d) => (d === 'main-publisher' ? ['haproxy', ...mainNames] : [d]));
    return [after ? { ...s, after } : s];
  });
  return [proxy, ...spark.specs, ...rest];
}

function toServer(spec: ServiceSpec): { name: string; port: number } {
  return { name: spec.name, port: Number(new URL(spec.addresses?.url ?? '').port) };
}
