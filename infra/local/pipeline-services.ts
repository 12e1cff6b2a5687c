/**
 * The EmoStream services on top of a running Kafka + registry, as supervised child processes: ingest, the
 * emoji-swarm Spark SQL job, the fan-out main publisher, and per cluster a cluster publisher and its subscriber
 * nodes. `npm start` turns {@link pipelineSpecs} into its SERVICES; tests and the load simulator call
 * {@link startPipeline}, which also picks free ports and tears everything down on stop().
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clientSecurityEnv } from '../../common/client-security.ts';
import { WEB_DEFAULT_PORT } from '../../common/cors.ts';
import { TOPICS } from '../../common/topics.ts';
import {
  assertJobsRunOn,
  defaultEngine,
  type Engine,
  loadJobsList,
} from '../../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../../jobs/spark-sql/control/jobs-config.ts';
import { readStatus, runPaths } from '../../jobs/spark-sql/control/run-dir.ts';
import { clientSecurityOf, type LocalSecurity, type Principal } from './kafka-security.ts';
import { freePort } from './ports.ts';
import { serviceEntry } from './service-build.ts';
import {
  DEFAULT_RESTART_POLICY,
  type RestartPolicy,
  type RunningService,
  type ServiceSpec,
  startServices,
  stopServices,
} from './supervisor.ts';
import { repoRoot } from './versions.ts';

/** The job whose aggregates the fan-out serves; `npm start` runs every job of jobs/spark-sql/jobs.yml. */
export const PIPELINE_JOB = 'emoji-swarm';

/**
 * Service name of a job run alone (Flink: a runner per job): `spark-job` for the pipeline's own job (as before),
 * `spark-job-<name>` for others. Spark's one driver of every job is `spark-job`.
 */
export const sparkJobService = (job: string) => (job === PIPELINE_JOB ? 'spark-job' : `spark-job-${job}`);

/** Clusters and nodes per cluster of the local pipeline (2 × 2, as the issue asks). */
export const DEFAULT_TOPOLOGY = { clusters: ['cluster-a', 'cluster-b'], nodesPerCluster: 2 } as const;

/** Ports of the pipeline services; `npm start` uses {@link DEFAULT_PIPELINE_PORTS}, tests free ones. */
export interface PipelinePorts {
  ingest: number;
  /** Main publisher (directory + snapshots). */
  main: number;
  /** One per cluster, in {@link PipelineOptions.clusters} order. */
  clusterPublishers: number[];
  /** Per cluster, one per node. */
  nodes: number[][];
  /** The web server: viewer page and operator dashboard. */
  web: number;
}

/** Fixed ports of `npm start`: ingest 8080, directory 8090, cluster publishers 8091–8092, nodes 8093–8096, web 8088. */
export function defaultPipelinePorts(ingest = 8080, base = 8090, web = WEB_DEFAULT_PORT): PipelinePorts {
  const { clusters, nodesPerCluster } = DEFAULT_TOPOLOGY;
  return {
    ingest,
    main: base,
    clusterPublishers: clusters.map((_, i) => base + 1 + i),
    nodes: clusters.map((_, c) =>
      Array.from({ length: nodesPerCluster }, (_, n) => base + 1 + clusters.length + c * nodesPerCluster + n),
    ),
    web,
  };
}

/** Topic names the pipeline uses; tests pass fresh ones to stay apart from other tests on the same broker. */
export interface PipelineTopics {
  reactions: string;
  aggregates: string;
  /** Prefix of the per-cluster topics between the main and the cluster publishers. */
  fanoutPrefix: string;
}

/** Where the pipeline runs and how. */
export interface PipelineOptions {
  host: string;
  kafkaBrokers: string;
  registryUrl: string;
  ports: PipelinePorts;
  /** @default DEFAULT_TOPOLOGY.clusters */
  clusters?: readonly string[];
  /** @default the default topic names */
  topics?: PipelineTopics;
  /**
   * Run directories and checkpoints of the Spark job (SPARK_JOBS_STATE). Keep it beside Kafka's data: a
   * checkpoint holds offsets of one Kafka's topics and cannot be resumed on a freshly formatted broker.
   */
  sparkState: string;
  /**
   * Ingest's dead-letter directory (INGEST_DEAD_LETTER_DIR): records Kafka refuses on their own.
   * @default a `dead-letter` sibling of {@link sparkState}
   */
  deadLetterDir?: string;
  /** Suffix of the fan-out consumer group ids (fresh ones per test run). */
  groupSuffix?: string;
  /** Extra environment of ingest (e.g. a bigger batch limit for tests). */
  ingestEnv?: Record<string, string>;
  /** Extra environment of every fan-out service. */
  fanoutEnv?: Record<string, string>;
  /** Extra environment of the Spark job (e.g. SPARK_MASTER). */
  sparkEnv?: Record<string, string>;
  /** Spark SQL jobs to run (on Spark: all in one driver). @default every job of jobs/spark-sql/jobs.yml */
  jobs?: readonly string[];
  /**
   * The engine every job runs on (`npm start -- --engine flink`); each job must list it in its yml, else
   * {@link pipelineSpecs} throws naming the jobs that do not. @default each job's own default (its first engine)
   */
  engine?: Engine;
  /**
   * The secured stack's credentials (local-stack.ts `secure`): each service connects to Kafka as its own SCRAM user
   * over TLS and to the registry with basic auth, through the KAFKA_* / SCHEMA_REGISTRY_* variables of
   * common/client-security.ts. @default what this process's environment says (PLAINTEXT when unset)
   */
  security?: LocalSecurity;
}

/** A subscriber node of the pipeline. */
export interface PipelineNode {
  /** Service name and NODE_ID, e.g. `node-cluster-a-1`. */
  name: string;
  cluster: string;
  url: string;
}

/** Where a running pipeline answers. */
export interface PipelineAddresses {
  ingestUrl: string;
  /** The main publisher: `GET /v1/assign`, snapshots, node list. */
  directoryUrl: string;
  clusterPublisherUrls: string[];
  nodes: PipelineNode[];
  /** SPARK_JOBS_STATE of the job, for `npm run job:status`. */
  sparkState: string;
  /** The web viewer page (`?match=<id>` to open a match). */
  viewerUrl: string;
  /** The operator dashboard page. */
  dashboardUrl: string;
}

/** GET `url` answers 2xx. */
async function httpOk(url: string, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(url, { signal });
  await res.body?.cancel();
  return res.ok;
}

/** The addresses the services of `options` will have. */
export function pipelineAddresses(options: PipelineOptions): PipelineAddresses {
  const { host, ports } = options;
  const clusters = options.clusters ?? DEFAULT_TOPOLOGY.clusters;
  return {
    ingestUrl: `http://${host}:${ports.ingest}`,
    directoryUrl: `http://${host}:${ports.main}`,
    clusterPublisherUrls: clusters.map((_, i) => `http://${host}:${ports.clusterPublishers[i]}`),
    nodes: clusters.flatMap((cluster, c) =>
      (ports.nodes[c] ?? []).map((port, n) => ({
        name: `node-${cluster}-${n + 1}`,
        cluster,
        url: `http://${host}:${port}`,
      })),
    ),
    sparkState: options.sparkState,
    viewerUrl: `http://${host}:${ports.web}/viewer`,
    dashboardUrl: `http://${host}:${ports.web}/dashboard`,
  };
}

/**
 * The service specs of the pipeline, in a valid start order: ingest, the Spark job, the main publisher, then per
 * cluster its publisher and nodes. Each says what it comes {@link ServiceSpec.after}: everything but the nodes
 * needs only Kafka and the registry and starts at once (the publishers all create the per-cluster topics, which
 * is race-safe); a node starts once its cluster publisher and the directory are ready.
 */
export function pipelineSpecs(options: PipelineOptions): ServiceSpec[] {
  const addresses = pipelineAddresses(options);
  const clusters = options.clusters ?? DEFAULT_TOPOLOGY.clusters;
  const topics = options.topics ?? {
    reactions: TOPICS.reactions,
    aggregates: TOPICS.aggregates,
    fanoutPrefix: TOPICS.fanout,
  };
  const suffix = options.groupSuffix ? `-${options.groupSuffix}` : '';
  const security = options.security;
  const credentials = (principal: Principal): Record<string, string> =>
    security ? clientSecurityEnv(clientSecurityOf(security, principal)) : {};
  const common = {
    ...process.env,
    KAFKA_BROKERS: options.kafkaBrokers,
    SCHEMA_REGISTRY_URL: options.registryUrl,
    HOST: options.host,
    // The web viewer's page calls ingest and the directory across origins; an operator's own list is kept.
    CORS_ORIGINS: [`http://${options.host}:${options.ports.web}`, process.env.CORS_ORIGINS]
      .filter((o) => o !== undefined && o !== '')
      .join(','),
  };
  const fanoutCommon = {
    ...common,
    ...credentials('fanout'),
    FANOUT_TOPIC_PREFIX: topics.fanoutPrefix,
    AGGREGATES_TOPIC: topics.aggregates,
    ...options.fanoutEnv,
  };
  const specs: ServiceSpec[] = [
    {
      name: 'ingest',
      ...serviceEntry('ingest/main.ts'),
      cwd: repoRoot,
      env: {
        ...common,
        ...credentials('ingest'),
        INGEST_PORT: String(options.ports.ingest),
        INGEST_TOPIC: topics.reactions,
        INGEST_DEAD_LETTER_DIR:
          options.deadLetterDir ?? path.join(path.dirname(path.resolve(options.sparkState)), 'dead-letter'),
        ...options.ingestEnv,
      },
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
      after: [],
      addresses: { url: addresses.ingestUrl },
      ready: (signal) => httpOk(`${addresses.ingestUrl}/ready`, signal),
    },
  ];

  const sparkEnv = {
    ...common,
    ...credentials('spark'),
    REACTIONS_TOPIC: topics.reactions,
    AGGREGATES_TOPIC: topics.aggregates,
    SPARK_JOBS_STATE: options.sparkState,
    ...options.sparkEnv,
  };
  const sparkConfig = loadJobsConfig(sparkEnv);
  const jobs = options.jobs ?? loadJobsList();
  if (options.engine) assertJobsRunOn(jobs, options.engine);
  // Spark jobs share one driver (one JVM and scheduler; a query, checkpoint and run dir each): a driver per job cost
  // a JVM's memory and CPU each, and on two cores the drivers' batches then competed for the same cores. Flink runs
  // one runner per job.
  const groups: (readonly string[])[] =
    (options.engine ?? 'spark') === 'spark' &&
    jobs.every((j) => defaultEngine(j) === 'spark') &&
    jobs.length > 0
      ? [jobs]
      : jobs.map((j) => [j]);
  for (const group of groups) {
    const runs = group.map((job) => runPaths(sparkConfig, job));
    const lead = runs[0] as (typeof runs)[number];
    specs.push({
      name: groups.length === 1 ? 'spark-job' : sparkJobService(group[0] as string),
      ...serviceEntry(
        'jobs/spark-sql/control/main.ts',
        group.join(','),
        ...(options.engine ? [options.engine] : []),
      ),
      cwd: repoRoot,
      env: sparkEnv,
      // Spark (and Flink's mini-cluster) start slowly on two cores; main.ts waits for the queries themselves and says
      // why one failed.
      readyTimeoutMs: 300_000,
      // A job's start is itself seconds of JVM start and restore, and it is the pipeline's output: its first
      // restart follows at once (then doubling, 200 ms → 30 s; a crash loop still gives up after 5 exits).
      restartTiming: { initialDelayMs: 200 },
      // The runner lets the micro-batch in flight commit before it stops; main.ts allows it 60 s.
      stopTimeoutMs: 75_000,
      after: [],
      addresses: { 'driver log': lead.log },
      // Written by this run's runner, not one before it: a restart finds the killed run's `running` still there.
      ready: async (_signal, run) => {
        const statuses = await Promise.all(runs.map((paths) => readStatus(paths)));
        return statuses.every((s) => s?.state === 'running' && (s.since ?? 0) * 1000 >= run.startedAt);
      },
    });
  }

  specs.push({
    name: 'main-publisher',
    ...serviceEntry('fanout/main.ts', 'main-publisher'),
    cwd: repoRoot,
    env: {
      ...fanoutCommon,
      FANOUT_MAIN_PORT: String(options.ports.main),
      FANOUT_MAIN_GROUP_ID: `emostream-fanout-main${suffix}`,
    },
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 15_000,
    after: [],
    addresses: { directory: addresses.directoryUrl },
    ready: (signal) => httpOk(`${addresses.directoryUrl}/ready`, signal),
  });

  clusters.forEach((cluster, c) => {
    const publisherUrl = addresses.clusterPublisherUrls[c] ?? '';
    specs.push({
      name: `cluster-publisher-${cluster}`,
      ...serviceEntry('fanout/main.ts', 'cluster-publisher'),
      cwd: repoRoot,
      env: {
        ...fanoutCommon,
        CLUSTER_ID: cluster,
        CLUSTER_PUBLISHER_PORT: String(options.ports.clusterPublishers[c]),
        FANOUT_CLUSTER_GROUP_ID: `emostream-fanout-cluster-${cluster}${suffix}`,
      },
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 15_000,
      after: [],
      addresses: { url: publisherUrl },
      ready: (signal) => httpOk(`${publisherUrl}/ready`, signal),
    });
    for (const node of addresses.nodes.filter((n) => n.cluster === cluster)) {
      specs.push({
        name: node.name,
        ...serviceEntry('fanout/main.ts', 'subscriber-node'),
        cwd: repoRoot,
        env: {
          ...fanoutCommon,
          CLUSTER_ID: cluster,
          NODE_ID: node.name,
          SUBSCRIBER_PORT: new URL(node.url).port,
          CLUSTER_PUBLISHER_URL: publisherUrl,
          DIRECTORY_URL: addresses.directoryUrl,
        },
        readyTimeoutMs: 60_000,
        stopTimeoutMs: 15_000,
        after: ['main-publisher', `cluster-publisher-${cluster}`],
        addresses: { url: node.url },
        // Ready = connected to its cluster publisher and reported to the directory.
        ready: (signal) => httpOk(`${node.url}/ready`, signal),
      });
    }
  });
  const metricsTargets = [
    `ingest:ingest=${addresses.ingestUrl}`,
    `main-publisher:main-publisher=${addresses.directoryUrl}`,
    ...clusters.map(
      (c, i) => `cluster-publisher:cluster-publisher-${c}=${addresses.clusterPublisherUrls[i]}`,
    ),
    ...addresses.nodes.map((n) => `subscriber-node:${n.name}=${n.url}`),
  ];
  specs.push({
    name: 'web',
    ...serviceEntry('web/main.ts'),
    cwd: repoRoot,
    env: {
      ...process.env,
      HOST: options.host,
      WEB_PORT: String(options.ports.web),
      INGEST_URL: addresses.ingestUrl,
      DIRECTORY_URL: addresses.directoryUrl,
      WEB_METRICS_TARGETS: metricsTargets.join(','),
      SPARK_JOBS_STATE: options.sparkState,
    },
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    // Needs nothing up: the dashboard shows what is not (yet) answering as down.
    after: [],
    addresses: { viewer: addresses.viewerUrl, dashboard: addresses.dashboardUrl },
    ready: (signal) => httpOk(`http://${options.host}:${options.ports.web}/health`, signal),
  });
  return specs;
}

/** Free loopback ports for every service of the pipeline. */
export async function freePipelinePorts(
  host = '127.0.0.1',
  clusters: readonly string[] = DEFAULT_TOPOLOGY.clusters,
  nodesPerCluster: number = DEFAULT_TOPOLOGY.nodesPerCluster,
): Promise<PipelinePorts> {
  // Held apart by asking one at a time and refusing repeats: the OS may hand out a just-closed port again.
  const taken = new Set<number>();
  const next = async () => {
    for (;;) {
      const port = await freePort(host);
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const ingest = await next();
  const main = await next();
  const clusterPublishers: number[] = [];
  const nodes: number[][] = [];
  for (const _ of clusters) {
    clusterPublishers.push(await next());
    const ports: number[] = [];
    for (let n = 0; n < nodesPerCluster; n++) ports.push(await next());
    nodes.push(ports);
  }
  return { ingest, main, clusterPublishers, nodes, web: await next() };
}

/** A pipeline started by {@link startPipeline}. */
export interface Pipeline extends PipelineAddresses {
  services: RunningService[];
  runDir: string;
  /** The running service of that name (e.g. `node-cluster-a-1`). */
  service(name: string): RunningService;
  /**
   * SIGKILLs a service's whole process group (a crash, not a stop) and waits until it is gone; with restarts on,
   * the supervisor then starts it again (watch `service(name).events` for `ready`).
   */
  kill(name: string): Promise<void>;
  /** Stops everything in reverse start order (the Spark job gracefully). */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of {@link startPipeline}: {@link PipelineOptions} with ports, state and run dir optional. */
export interface StartPipelineOptions
  extends Omit<PipelineOptions, 'ports' | 'sparkState' | 'host'>,
    Partial<Pick<PipelineOptions, 'ports' | 'sparkState' | 'host'>> {
  /** Logs and pid files. Absent: a temp dir, removed by stop() unless EMOSTREAM_KEEP_RUN_DIR is set. */
  runDir?: string;
  /**
   * Restarts of a service that exits on its own (supervisor.ts); `false`: none, an exit is final.
   * @default DEFAULT_RESTART_POLICY
   */
  restart?: RestartPolicy | false;
  /** Turns the pipeline's specs into a profile's (profiles.ts `clusterPipelineSpecs`). @default as they are */
  profile?: (specs: ServiceSpec[], runDir: string) => ServiceSpec[];
}

/**
 * Starts the pipeline as supervised child processes against a running Kafka + registry, each as soon as what it
 * comes after is ready (the Spark job, which alone takes a minute or more, alongside the others); on any failure
 * stops what it started.
 */
export async function startPipeline(options: StartPipelineOptions): Promise<Pipeline> {
  const host = options.host ?? '127.0.0.1';
  const ownRunDir = !options.runDir;
  const runDir = options.runDir ?? mkdtempSync(path.join(tmpdir(), 'emostream-pipeline-'));
  const full: PipelineOptions = {
    ...options,
    host,
    ports: options.ports ?? (await freePipelinePorts(host, options.clusters)),
    sparkState: options.sparkState ?? path.join(runDir, 'spark-jobs'),
    // Tests and the load simulator need the fan-out's job only; two drivers on two cores would slow them all.
    jobs: options.jobs ?? [PIPELINE_JOB],
  };
  const services: RunningService[] = [];
  const cleanup = async () => {
    await stopServices(services);
    if (ownRunDir && !process.env.EMOSTREAM_KEEP_RUN_DIR) rmSync(runDir, { recursive: true, force: true });
  };
  try {
    const restart = options.restart === false ? undefined : (options.restart ?? DEFAULT_RESTART_POLICY);
    const specs = pipelineSpecs(full);
    services.push(...(await startServices(options.profile?.(specs, runDir) ?? specs, runDir, { restart })));
  } catch (error) {
    await cleanup();
    throw error;
  }
  const byName = (name: string) => {
    const found = services.find((s) => s.name === name);
    if (!found) throw new Error(`no service ${name} (have ${services.map((s) => s.name).join(', ')})`);
    return found;
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= cleanup();
    return stopping;
  };
  return {
    ...pipelineAddresses(full),
    services,
    runDir,
    service: byName,
    async kill(name) {
      const s = byName(name);
      // No run to kill: in backoff, or stopped.
      if (s.state === 'backoff' || s.state === 'stopped') return;
      const pgid = s.pid;
      const gone = new Promise<unknown>((resolve) => s.events.once('exit', resolve));
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
      await Promise.race([gone, s.exited]);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
