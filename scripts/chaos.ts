#!/usr/bin/env tsx
/**
 * `npm run chaos [-- --faults a,b,c --rate R --viewers V --matches K --settle S]`
 *
 * The fault-injection suite (issue #10): starts its own Kafka, registry and pipeline on free loopback ports in a
 * temp dir, runs steady load (durable and async requests), injects each fault in turn, and prints per fault how long
 * swarms took to flow again, how many viewers were cut off and when they were back, and every window's final count
 * at viewers against what ingest acknowledged. Writes reports/chaos-<time>.json; exits 1 when a target is missed,
 * 2 on bad arguments. Faults: see `--faults help`. Progress on stderr; the table on stdout.
 *
 * `--profile cluster` runs it on the cluster profile (infra/local/profiles.ts: three Kafka nodes, Spark standalone,
 * ingest and main publisher replicas behind HAProxy) with that profile's faults: the leader of a reactions
 * partition, a Spark worker, an ingest replica, a main publisher instance (plus, when named, the light faults whose
 * service the profile keeps: spark-driver, cluster publishers, subscriber-node, redeliver).
 *
 * `--engine flink` runs the swarm job on Flink (npm start's `--engine`): `spark-driver` then kills the Flink
 * runner's process group (runner and the JVM of its mini-cluster), which restores from its last checkpoint, and
 * the run checks the same exact final counts.
 *
 * `--auth` (or `EMOSTREAM_AUTH=jwt`) runs the pipeline with signed tokens on (INGEST_AUTH/VIEWER_AUTH=jwt, a fresh
 * secret for the run) and the load with tokens (infra/local/load-tokens.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argv, chalk } from 'zx';
import { TOPICS } from '../common/topics.ts';
import { formatTable, runChaos } from '../infra/chaos/chaos-run.ts';
import { allFaults, clusterFaults } from '../infra/chaos/faults.ts';
import { localAuthWanted } from '../infra/local/auth-secret.ts';
import { type JobSelection, jobSelectionFrom } from '../infra/local/foreground.ts';
import { ensureHaproxy } from '../infra/local/haproxy.ts';
import { createLoadTokens } from '../infra/local/load-tokens.ts';
import { startStack } from '../infra/local/local-stack.ts';
import { DEFAULT_TOPOLOGY, PIPELINE_JOB, startPipeline } from '../infra/local/pipeline-services.ts';
import {
  CLUSTER_PROFILE,
  clusterPipelineSpecs,
  clusterProfileTopics,
  freeClusterPorts,
  profileFrom,
} from '../infra/local/profiles.ts';
import { createProgress } from '../infra/local/progress.ts';
import { DEFAULT_RESTART_POLICY } from '../infra/local/supervisor.ts';
import { repoRoot } from '../infra/local/versions.ts';
import { fail, intOption } from './cli-options.ts';

let profile: ReturnType<typeof profileFrom>;
let selection: JobSelection;
try {
  profile = profileFrom(argv);
  // --engine flink: the job faults hit the Flink runner and its JVM (the pipeline's job alone, as by default).
  selection = jobSelectionFrom(argv, process.env, [PIPELINE_JOB]);
  if (profile === 'cluster' && selection.engine === 'flink')
    throw new Error('--engine flink runs on the light profile; the cluster profile runs Spark standalone');
} catch (error) {
  fail((error as Error).message);
}
/** Light faults whose service the cluster profile keeps as it is. */
const KEPT = [
  'spark-driver',
  'subscriber-node',
  'redeliver',
  ...DEFAULT_TOPOLOGY.clusters.map((c) => `cluster-publisher-${c}`),
];
const lightFaults = (p: Parameters<typeof allFaults>[0]) => allFaults(p, DEFAULT_TOPOLOGY.clusters);
const faultsOf = (p: Parameters<typeof allFaults>[0]) =>
  profile === 'cluster'
    ? [...clusterFaults(), ...lightFaults(p).filter((f) => KEPT.includes(f.id))]
    : lightFaults(p);
const known = faultsOf({ nodes: [] });
const defaults = profile === 'cluster' ? clusterFaults().map((f) => f.id) : known.map((f) => f.id);
const listing = known.map((f) => `  ${f.id.padEnd(28)} ${f.what}`).join('\n');
if (argv.faults === 'help' || argv.help) {
  console.log(
    `faults (default: ${profile === 'cluster' ? `the first ${defaults.length}` : 'all'}, in this order):\n${listing}`,
  );
  process.exit(0);
}
const rate = intOption('rate', 2000, 1, 100_000);
const viewers = intOption('viewers', 200, 1, 5000);
const matches = intOption('matches', 4, 1, 100);
const settleS = intOption('settle', 10, 0, 600);
// Auth on: one secret for this run's services and the load's tokens.
const authSecret = localAuthWanted(argv) ? randomBytes(32).toString('base64url') : undefined;
const authEnv: Record<string, string> =
  authSecret === undefined ? {} : { INGEST_AUTH: 'jwt', VIEWER_AUTH: 'jwt', AUTH_JWT_SECRET: authSecret };
const wanted =
  argv.faults === undefined
    ? defaults
    : String(argv.faults)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
const unknown = wanted.filter((id) => !known.some((f) => f.id === id));
if (unknown.length > 0 || wanted.length === 0) {
  fail(`--faults: unknown ${unknown.join(', ') || '(none given)'}; known faults:\n${listing}`);
}

const progress = createProgress();
const started = new Date();
let stopping = false;
// Kafka and the registry under the restart policy too, as under npm start: the broker fault expects it back.
const haproxy = profile === 'cluster' ? await ensureHaproxy(progress) : '';
const stack = await startStack({
  progress,
  kafkaHeap: '512m',
  restart: DEFAULT_RESTART_POLICY,
  ...(profile === 'cluster' ? { kafkaCluster: CLUSTER_PROFILE.kafka, topics: clusterProfileTopics() } : {}),
});
const clusterPorts = profile === 'cluster' ? await freeClusterPorts() : undefined;
const cleanup = async () => {
  await pipeline?.stop();
  await stack.stop();
};
process.on('SIGINT', () => {
  if (stopping) process.exit(130);
  stopping = true;
  console.error(chalk.yellow('\ninterrupted: stopping the stack'));
  void cleanup().then(() => process.exit(130));
});
let pipeline: Awaited<ReturnType<typeof startPipeline>> | undefined;
let exitCode = 0;
try {
  pipeline = await progress.step(
    `pipeline (ingest, ${selection.engine ?? 'default-engine'} job, fan-out; profile ${profile})`,
    () =>
      startPipeline({
        kafkaBrokers: stack.kafkaBrokers,
        registryUrl: stack.registryUrl,
        // Beside Kafka's data: a checkpoint is only valid with the broker whose offsets it holds.
        runDir: path.join(stack.runDir, 'pipeline'),
        // Every reaction is its own user: the per-user limit would refuse the load, not protect anything.
        ingestEnv: { INGEST_RATE_LIMIT_PER_SEC: '0', LOG_LEVEL: 'warn', ...authEnv },
        fanoutEnv: { FANOUT_NODE_TTL_MS: '3000', LOG_LEVEL: 'warn', ...authEnv },
        ...(selection.engine ? { engine: selection.engine } : {}),
        ...(selection.jobs ? { jobs: selection.jobs } : {}),
        ...(clusterPorts
          ? {
              profile: (specs, runDir) =>
                clusterPipelineSpecs(specs, {
                  host: stack.host,
                  clusterPorts,
                  runtime: stack.runtime,
                  runDir,
                  haproxy,
                }),
            }
          : {}),
      }),
  );
  const faults = faultsOf(pipeline);
  const result = await runChaos({
    target: {
      pipeline,
      stackServices: stack.services,
      kafkaBrokers: stack.kafkaBrokers,
      reactionsTopic: TOPICS.reactions,
    },
    faults: wanted.map((id) => faults.find((f) => f.id === id)).filter((f) => f !== undefined),
    ingestUrl: pipeline.ingestUrl,
    directoryUrl: pipeline.directoryUrl,
    rate,
    viewers,
    matches,
    settleS,
    progress,
    tokens:
      authSecret === undefined
        ? undefined
        : await createLoadTokens({ secret: authSecret, subjects: 200, prefix: 'chaos-user' }),
  });
  const report = {
    kind: 'emostream-chaos',
    at: started.toISOString(),
    engine: selection.engine ?? 'default',
    ...result,
  };
  const dir = path.join(repoRoot, 'reports');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `chaos-${report.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nengine: ${report.engine}\n${formatTable(result)}\n`);
  for (const t of result.targets) {
    console.log(`${t.ok ? chalk.green('✓') : chalk.red('✗')} ${t.fault}: ${t.target} (${t.detail})`);
  }
  console.log(`\nreport ${path.relative(process.cwd(), file)}`);
  if (!result.passed) {
    console.log(chalk.red('a target was missed'));
    exitCode = 1;
  }
} catch (error) {
  console.error(chalk.red(`chaos run failed: ${(error as Error).message}`));
  exitCode = 1;
} finally {
  if (!stopping) await cleanup();
}
process.exit(exitCode);
