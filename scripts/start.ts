#!/usr/bin/env tsx
/**
 * `npm start [-- --demo]` — provision, run Kafka and the schema registry, then the EmoStream pipeline as child
 * processes, each once what it comes after is ready (`after` in pipeline-services.ts): ingest, the emoji-swarm
 * Spark SQL job, the fan-out main publisher (directory) and 2 cluster publishers at once, then each cluster's
 * 2 subscriber nodes. Prints the addresses;
 * a service that exits on its own is restarted with backoff (the Spark job resumes from its checkpoint), a crash
 * loop stops the stack; /status and /metrics of the supervisor on --status-port/EMOSTREAM_STATUS_PORT (8089).
 * Ctrl-C stops everything in reverse order (the Spark job gracefully).
 *
 * State (Kafka's log, the registry's database, the Spark checkpoints) persists in the data dir as in `npm run stack`
 * (--data-dir/EMOSTREAM_DATA_DIR, default <cache>/data; `--fresh` wipes it first); the job resumes from its checkpoint.
 *
 * Ports as in `npm run stack`, plus --ingest-port/INGEST_PORT (8080) and --fanout-port/FANOUT_PORT (8090: the
 * directory; cluster publishers and nodes take the next six) and --web-port/WEB_PORT (8088: the viewer page and the
 * operator dashboard). `--demo` adds simulated viewers and reactions. `--secure` (EMOSTREAM_SECURE=1): Kafka asks
 * every client who it is (SASL_SSL, SCRAM-SHA-512, a CA generated into <data>/security) and the registry asks for
 * basic auth; each service gets its own credentials (infra/local/kafka-security.ts). `--auth` (or
 * EMOSTREAM_AUTH=jwt) turns signed tokens on for ingest and the subscriber nodes (INGEST_AUTH/VIEWER_AUTH=jwt) with
 * the data dir's local secret (infra/local/auth-secret.ts); `npm run token` mints tokens for it.
 *
 * `--profile cluster` (or EMOSTREAM_PROFILE=cluster) runs the same pipeline as a small cluster on loopback
 * (infra/local/profiles.ts): three Kafka nodes at replication 3 / min ISR 2, a Spark standalone master and two
 * workers, two ingest replicas and two main publishers behind HAProxy; its Spark state is `spark-jobs-cluster/` and
 * its Kafka `kafka-cluster/` in the data dir, apart from the light profile's.
 *
 * `--engine flink` (EMOSTREAM_ENGINE) runs every job on Flink (a local mini-cluster per job, PyFlink and the connector
 * jars provisioned with progress on first use) instead of each job's default (Spark); a job whose yml does not list
 * the engine is named before anything starts. `--jobs a,b` (EMOSTREAM_JOBS) runs only these jobs of
 * jobs/spark-sql/jobs.yml: `npm start -- --engine flink --jobs emoji-swarm`. Both shipped jobs run on Flink.
 *
 * To add a service, add its spec (command, env, readiness probe) to `pipelineSpecs` in
 * infra/local/pipeline-services.ts; SERVICES below is derived from that list, so `npm start`, the tests and the load
 * simulator all start it.
 */
import path from 'node:path';
import { argv, chalk } from 'zx';
import { mintToken } from '../common/auth.ts';
import { WEB_DEFAULT_PORT } from '../common/cors.ts';
import { localAuthSecret, localAuthWanted } from '../infra/local/auth-secret.ts';
import { dataDirFrom, dataPaths } from '../infra/local/data-dir.ts';
import { type Demo, startDemo } from '../infra/local/demo-traffic.ts';
import { RuntimeError } from '../infra/local/errors.ts';
import { flinkRuntime } from '../infra/local/flink-runtime.ts';
import {
  type JobSelection,
  jobSelectionFrom,
  portsFrom,
  reportFailure,
  runDirFrom,
  runForeground,
  type ServiceContext,
  type ServiceFactory,
  secureFrom,
  statusPortFrom,
} from '../infra/local/foreground.ts';
import { ensureHaproxy } from '../infra/local/haproxy.ts';
import {
  defaultPipelinePorts,
  type PipelineOptions,
  pipelineAddresses,
  pipelineSpecs,
} from '../infra/local/pipeline-services.ts';
import { assertPortFree } from '../infra/local/ports.ts';
import {
  CLUSTER_PROFILE,
  type ClusterPorts,
  clusterPipelineSpecs,
  clusterPortList,
  clusterProfileTopics,
  defaultClusterPorts,
  type ProfileName,
  profileFrom,
} from '../infra/local/profiles.ts';
import { type RetentionSettings, retentionFrom } from '../infra/local/retention.ts';

const HOST = '127.0.0.1';
let ports: ReturnType<typeof portsFrom>;
let pipelinePorts: PipelineOptions['ports'];
let statusPort: number;
let retention: RetentionSettings;
let profile: ProfileName;
let clusterPorts: ClusterPorts | undefined;
let haproxy = '';
let secure: boolean;
let selection: JobSelection;
const runDir = runDirFrom(argv);
const dataDir = dataDirFrom(argv);
try {
  ports = portsFrom(argv);
  statusPort = statusPortFrom(argv);
  retention = retentionFrom(argv);
  profile = profileFrom(argv);
  secure = secureFrom(argv);
  // --engine/--jobs: a job that lacks the engine is named here, before anything starts.
  selection = jobSelectionFrom(argv);
  if (profile === 'cluster' && selection.engine === 'flink') {
    throw new RuntimeError(
      '--engine flink runs on the light profile (a local Flink mini-cluster per job); the cluster profile runs Spark standalone',
    );
  }
  const fanoutBase = Number(argv['fanout-port'] ?? process.env.FANOUT_PORT ?? 8090);
  if (!Number.isInteger(fanoutBase) || fanoutBase < 1 || fanoutBase > 65_528) {
    throw new RuntimeError(
      `--fanout-port must be a port number (it and the next 6 are used), got ${fanoutBase}`,
    );
  }
  const webPort = Number(argv['web-port'] ?? process.env.WEB_PORT ?? WEB_DEFAULT_PORT);
  if (!Number.isInteger(webPort) || webPort < 1 || webPort > 65_535) {
    throw new RuntimeError(`--web-port must be a port number, got ${webPort}`);
  }
  pipelinePorts = defaultPipelinePorts(ports.ingest, fanoutBase, webPort);
  // Checked before anything starts, so a taken port fails fast instead of after Kafka and the registry are up.
  await assertPortFree('Ingest API', HOST, pipelinePorts.ingest);
  await assertPortFree('Fan-out directory (main publisher)', HOST, pipelinePorts.main);
  for (const p of pipelinePorts.clusterPublishers) await assertPortFree('Cluster publisher', HOST, p);
  for (const p of pipelinePorts.nodes.flat()) await assertPortFree('Subscriber node', HOST, p);
  await assertPortFree('Web viewer and dashboard', HOST, pipelinePorts.web);
  if (profile === 'cluster') {
    clusterPorts = defaultClusterPorts(pipelinePorts);
    for (const [what, port] of clusterPortList(clusterPorts)) await assertPortFree(what, HOST, port);
    // A missing HAProxy is named (or installed, as root) before anything starts.
    haproxy = await ensureHaproxy();
  }
  // PyFlink and the connector jars, fetched with progress on first use: not inside a job's start-up deadline.
  if (selection.engine === 'flink') await flinkRuntime();
} catch (error) {
  process.exit(reportFailure(error));
}

/** The pipeline's options on the stack `ctx` describes. */
function pipelineOn(
  ctx: Pick<ServiceContext, 'host' | 'kafkaBrokers' | 'registryUrl' | 'security'>,
): PipelineOptions {
  return {
    // Secured (--secure): each service its own Kafka user, over TLS, and the registry's basic-auth user.
    ...(ctx.security ? { security: ctx.security } : {}),
    host: ctx.host,
    kafkaBrokers: ctx.kafkaBrokers,
    registryUrl: ctx.registryUrl,
    ports: pipelinePorts,
    ...(selection.engine ? { engine: selection.engine } : {}),
    ...(selection.jobs ? { jobs: selection.jobs } : {}),
    // Beside Kafka's data in the data dir: both are kept or wiped (--fresh, npm run reset) together, so a
    // checkpoint never points at offsets of a broker that no longer exists. Each profile has a Kafka of its own.
    sparkState:
      profile === 'cluster' ? path.join(dataDir, 'spark-jobs-cluster') : dataPaths(dataDir).sparkState,
  };
}

// One factory per pipeline service, in start order; the specs are built once, from the first context.
const placeholder = pipelineOn({ host: HOST, kafkaBrokers: `${HOST}:1`, registryUrl: `http://${HOST}:1` });
let specs: ReturnType<typeof pipelineSpecs> | undefined;
const authOn = localAuthWanted(argv);
let authSecret: string | undefined;
/** Once, after --fresh wiped the data dir and before any service starts: every service reads the same secret. */
function ensureAuthEnv(): void {
  if (!authOn || authSecret !== undefined) return;
  authSecret = process.env.AUTH_JWT_SECRET || localAuthSecret(dataDir, true);
  Object.assign(process.env, { INGEST_AUTH: 'jwt', VIEWER_AUTH: 'jwt', AUTH_JWT_SECRET: authSecret });
}
const SERVICES: ServiceFactory[] = clusterPorts
  ? [
      (ctx) => {
        ensureAuthEnv();
        return clusterPipelineSpecs(pipelineSpecs(pipelineOn(ctx)), {
          host: ctx.host,
          clusterPorts: clusterPorts as ClusterPorts,
          runtime: ctx.runtime,
          runDir: ctx.runDir,
          haproxy,
        });
      },
    ]
  : pipelineSpecs(placeholder).map((_, i) => (ctx) => {
      ensureAuthEnv();
      specs ??= pipelineSpecs(pipelineOn(ctx));
      const spec = specs[i];
      return spec ?? { skip: `pipeline service #${i} is missing` };
    });

const addresses = pipelineAddresses(placeholder);
const done = new AbortController();
let demo: Demo | undefined;

/** Once everything is ready (runForeground has printed its address block): hints, and the demo if asked. */
async function whenUp(): Promise<void> {
  if (done.signal.aborted) return;
  process.stdout.write(
    `${chalk.bold('Watch:')} ${addresses.viewerUrl}?match=demo-final   (keys 1–9 react)\n` +
      `${chalk.bold('Operate:')} ${addresses.dashboardUrl}\n` +
      `${chalk.bold('Try:')} npm run client -- --match demo-final   (keys 1–5 react)\n` +
      `     npm run load -- --rate 2000 --viewers 200 --duration 30 --matches 4\n` +
      `     SPARK_JOBS_STATE=${addresses.sparkState} npm run job:status\n\n`,
  );
  if (authOn)
    process.stdout.write(
      `${chalk.bold('Auth is on:')} ingest and the subscriber nodes need a token. Get one with\n` +
        `     npm run token -- --sub u1 --ttl 1h [--matches m1,m2]${dataDir === dataDirFrom({}) ? '' : ` --data-dir ${dataDir}`}\n` +
        `     then npm run client -- --match demo-final --token <token>, or paste it in the viewer page's token field\n\n`,
    );
  if (argv.demo) {
    try {
      const secret = authSecret;
      demo = await startDemo({
        ingestUrl: addresses.ingestUrl,
        directoryUrl: addresses.directoryUrl,
        mint:
          secret === undefined ? undefined : (subject) => mintToken({ secret, subject, ttlSec: 7 * 86_400 }),
      });
    } catch (err) {
      process.stderr.write(chalk.yellow(`demo could not start: ${(err as Error).message}\n`));
    }
  }
}

const stopDemo = () => {
  done.abort();
  demo?.stop();
};
process.on('SIGINT', stopDemo);
process.on('SIGTERM', stopDemo);

try {
  process.exitCode = await runForeground({
    kafkaPort: ports.kafka,
    kafkaControllerPort: ports.kafkaController,
    registryPort: ports.registry,
    runDir,
    statusPort,
    dataDir,
    fresh: Boolean(argv.fresh),
    secure,
    retention,
    ...(profile === 'cluster' ? { kafkaCluster: CLUSTER_PROFILE.kafka, topics: clusterProfileTopics() } : {}),
    services: SERVICES,
    onUp: () => void whenUp(),
  });
} catch (error) {
  process.exitCode = reportFailure(error);
} finally {
  stopDemo();
}
