import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import {
  createRegistryClient,
  loadSchema,
  registerSchema,
  valueSubject,
} from '../../../common/avro-serde.ts';
import { JobError } from './errors.ts';
import { checkpointName, param, type SqlJob } from './job-header.ts';
import { type JobsConfig, LOG4J_CONFIG, RUNNER, SCHEMAS_DIR } from './jobs-config.ts';
import { resolveSparkRuntime, type SparkRuntime } from './spark-runtime.ts';

/** Files of one job's run directory. */
export interface RunPaths {
  dir: string;
  /** Written by the runner: `{state: running|stopped|failed, pid, …}`. */
  status: string;
  /** One Spark StreamingQueryProgress JSON per line, appended by the runner. */
  progress: string;
  /** Written at submit: launcher pid, checkpoint, topics, shape. */
  meta: string;
  /** spark-submit's stdout and stderr. */
  log: string;
}

export function runPaths(config: JobsConfig, jobName: string): RunPaths {
  const dir = path.join(config.stateDir, 'runs', jobName);
  return {
    dir,
    status: path.join(dir, 'status.json'),
    progress: path.join(dir, 'progress.jsonl'),
    meta: path.join(dir, 'meta.json'),
    log: path.join(dir, 'driver.log'),
  };
}

/** What job:submit records beside a run. */
export interface RunMeta {
  job: string;
  file: string;
  launcherPid: number;
  checkpoint: string;
  source: string;
  sink: string;
  master: string;
  submittedAt: string;
}

/** What the runner reports in status.json. */
export interface RunStatus {
  state: 'running' | 'stopped' | 'failed';
  pid: number;
  error?: string;
}

/** Kafka topic of a job's logical source or sink name. */
export function topicOf(config: JobsConfig, job: SqlJob, which: 'source' | 'sink'): string {
  const logical = param(job, which);
  const topic = config.topics[logical];
  if (!topic) {
    throw new JobError(
      `${job.file}: @param ${which} = ${logical} names no configured topic (known: ${Object.keys(config.topics).join(', ')})`,
    );
  }
  return topic;
}

/** Checkpoint location of a job: `<root>/<job>-<hash of its stateful shape>`. */
export function checkpointOf(config: JobsConfig, job: SqlJob): string {
  const name = checkpointName(job, topicOf(config, job, 'source'));
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(config.checkpointRoot)
    ? `${config.checkpointRoot.replace(/\/+$/, '')}/${name}`
    : path.join(config.checkpointRoot, name);
}

/** Common spark-submit arguments: master, quiet logs, connector jars, then the runner. */
export function sparkSubmitArgs(rt: SparkRuntime, master: string): string[] {
  return [
    '--master',
    master,
    '--name',
    'emostream',
    '--driver-java-options',
    // ParallelGC: on two cores G1's concurrent marking and refinement threads compete with the tasks; the driver's
    // heap is small and short pauses do not matter next to a 2 s trigger.
    `-Dlog4j.configurationFile=file:${LOG4J_CONFIG} -XX:+UseParallelGC`,
    '--conf',
    'spark.driver.memory=1g',
    // A local driver stays on loopback; a cluster master must reach the driver on the address Spark picks.
    ...(master.startsWith('local')
      ? ['--conf', 'spark.driver.host=127.0.0.1', '--conf', 'spark.driver.bindAddress=127.0.0.1']
      : []),
    ...(rt.jars.length > 0 ? ['--jars', rt.jars.join(',')] : []),
    RUNNER,
  ];
}

/** Registers the reaction and aggregate schemas under their topics' subjects; returns their ids. */
export async function registerJobSchemas(
  config: JobsConfig,
  job: SqlJob,
): Promise<{ source: number; sink: number }> {
  const client = createRegistryClient(config.registryUrl);
  const dir = new URL(`file://${SCHEMAS_DIR}`);
  const [reaction, aggregate] = await Promise.all([
    loadSchema('reaction', dir),
    loadSchema('aggregate', dir),
  ]);
  const source = await registerSchema(client, valueSubject(topicOf(config, job, 'source')), reaction);
  const sink = await registerSchema(client, valueSubject(topicOf(config, job, 'sink')), aggregate);
  return { source, sink };
}

/** Fails with the missing topics named: Spark would otherwise die mid-start with UnknownTopicOrPartition. */
export async function assertTopicsExist(brokers: string, topics: string[]): Promise<void> {
  const admin = new Kafka({
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    clientId: 'job-submit',
  }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      throw new JobError(
        `topic ${missing.join(', ')} does not exist on ${brokers} (the stack creates the default topics)`,
      );
    }
  } catch (err) {
    if (err instanceof JobError) throw err;
    throw new JobError(`cannot reach Kafka at ${brokers}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect();
  }
}

/** Whether a process is alive (signal 0 probes without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const readStatus = (p: RunPaths) => readJson<RunStatus>(p.status);
export const readMeta = (p: RunPaths) => readJson<RunMeta>(p.meta);

/** Whether the job's previous run is still alive. */
export async function runningPid(paths: RunPaths): Promise<number | undefined> {
  const meta = await readMeta(paths);
  return meta && isAlive(meta.launcherPid) ? meta.launcherPid : undefined;
}

/** Other checkpoints of the same job (older shapes), kept on disk but never resumed. */
export async function otherCheckpoints(config: JobsConfig, job: SqlJob, current: string): Promise<string[]> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(config.checkpointRoot)) return [];
  const names = await readdir(config.checkpointRoot).catch(() => [] as string[]);
  return names
    .filter((n) => new RegExp(`^${job.name}-[0-9a-f]{12}$`).test(n))
    .map((n) => path.join(config.checkpointRoot, n))
    .filter((p) => p !== current);
}

/** Options of {@link submitJob}. */
export interface SubmitOptions {
  /** Resolve once the runner reports the query running (the default) rather than right after spawning. */
  waitRunning?: boolean;
  /** @default 240000 (Spark starts slowly on two cores) */
  timeoutMs?: number;
  runtime?: SparkRuntime;
}

/** Result of {@link submitJob}. */
export interface Submitted {
  meta: RunMeta;
  paths: RunPaths;
  /** Whether the checkpoint already existed (the job resumes where it stopped). */
  resumed: boolean;
  /** Checkpoints of the same job with another stateful shape: not used. */
  otherShapes: string[];
}

/**
 * Registers the schemas and starts the job with spark-submit in the background (its own process group, log in the
 * run directory). Refuses to start a job that is already running.
 */
export async function submitJob(
  config: JobsConfig,
  job: SqlJob,
  options: SubmitOptions = {},
): Promise<Submitted> {
  const paths = runPaths(config, job.name);
  const alive = await runningPid(paths);
  if (alive !== undefined)
    throw new JobError(`job ${job.name} is already running (pid ${alive}); job:stop it first`);
  const rt = options.runtime ?? (await resolveSparkRuntime());
  const source = topicOf(config, job, 'source');
  const sink = topicOf(config, job, 'sink');
  const checkpoint = checkpointOf(config, job);
  const resumed = existsSync(checkpoint);
  const otherShapes = await otherCheckpoints(config, job, checkpoint);
  await assertTopicsExist(config.brokers, [source, sink]);
  await registerJobSchemas(config, job);

  await mkdir(paths.dir, { recursive: true });
  await Promise.all([rm(paths.status, { force: true }), rm(paths.progress, { force: true })]);
  const args = [
    ...sparkSubmitArgs(rt, config.master),
    'stream',
    '--job',
    job.file,
    '--brokers',
    config.brokers,
    '--registry',
    config.registryUrl,
    ...Object.entries(config.topics).flatMap(([k, v]) => ['--topic', `${k}=${v}`]),
    '--sink-schema',
    path.join(SCHEMAS_DIR, 'aggregate.avsc'),
    '--checkpoint',
    checkpoint,
    '--run-dir',
    paths.dir,
    '--starting-offsets',
    config.startingOffsets,
    '--ui-port',
    config.uiPort,
    ...(config.maxOffsetsPerTrigger
      ? ['--max-offsets-per-trigger', String(config.maxOffsetsPerTrigger)]
      : []),
  ];
  const log = openSync(paths.log, 'w');
  const child = spawn(rt.sparkSubmit, args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...rt.env },
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new JobError(`spark-submit did not start (${rt.sparkSubmit})`);
  child.unref();
  const meta: RunMeta = {
    job: job.name,
    file: job.file,
    launcherPid: pid,
    checkpoint,
    source,
    sink,
    master: config.master,
    submittedAt: new Date().toISOString(),
  };
  await writeFile(paths.meta, JSON.stringify(meta, null, 2));
  if (options.waitRunning ?? true) await waitForRunning(paths, pid, options.timeoutMs ?? 240_000);
  return { meta, paths, resumed, otherShapes };
}

async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').slice(-lines).join('\n');
}

/** Waits until the runner reports the query running; fails with the driver log's tail if it dies first. */
export async function waitForRunning(
  paths: RunPaths,
  launcherPid: number,
  timeoutMs: number,
): Promise<RunStatus> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = await readStatus(paths);
    if (status?.state === 'running') return status;
    if (status?.state === 'failed' || !isAlive(launcherPid)) {
      throw new JobError(
        `job failed to start${status?.error ? `: ${status.error}` : ''}\n--- ${paths.log} ---\n${await tail(paths.log)}`,
      );
    }
    await sleep(250);
  }
  throw new JobError(`job not running after ${timeoutMs} ms\n--- ${paths.log} ---\n${await tail(paths.log)}`);
}

/**
 * Stops a job gracefully: SIGTERM to the runner, which lets the micro-batch in flight commit and stops the query;
 * after `timeoutMs` the launcher's process group is killed. Returns false when the job was not running.
 */
export async function stopJob(paths: RunPaths, timeoutMs = 90_000): Promise<boolean> {
  const meta = await readMeta(paths);
  if (!meta || !isAlive(meta.launcherPid)) return false;
  const status = await readStatus(paths);
  process.kill(status?.pid && isAlive(status.pid) ? status.pid : meta.launcherPid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(meta.launcherPid) && Date.now() < deadline) await sleep(200);
  if (isAlive(meta.launcherPid)) {
    killGroup(meta.launcherPid, 'SIGKILL');
    throw new JobError(`job ${meta.job} did not stop within ${timeoutMs} ms; killed`);
  }
  return true;
}

/** Kills a job's whole process group (launcher JVM and Python runner) at once: a crash, not a stop. */
export function killGroup(launcherPid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-launcherPid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The last `n` progress entries the runner wrote. */
export async function readProgress(paths: RunPaths, n = 30): Promise<StreamingProgress[]> {
  const text = await readFile(paths.progress, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .slice(-n)
    .map((l) => JSON.parse(l) as StreamingProgress);
}

/** The fields of Spark's StreamingQueryProgress that the scripts read. */
export interface StreamingProgress {
  batchId: number;
  timestamp: string;
  numInputRows: number;
  inputRowsPerSecond?: number;
  processedRowsPerSecond?: number;
  batchDuration?: number;
  durationMs?: Record<string, number>;
  eventTime?: Record<string, string>;
  sources: {
    description: string;
    endOffset?: unknown;
    latestOffset?: unknown;
    numInputRows: number;
    metrics?: Record<string, string>;
  }[];
  sink?: { numOutputRows?: number };
  stateOperators?: {
    numRowsTotal?: number;
    allUpdatesTimeMs?: number;
    allRemovalsTimeMs?: number;
    commitTimeMs?: number;
  }[];
}

/** Offsets behind the latest, from the Kafka source's metrics (summed over partitions by Spark as max/avg). */
export function offsetsBehind(p: StreamingProgress): number | undefined {
  let total: number | undefined;
  for (const s of p.sources) {
    const end = s.endOffset as Record<string, Record<string, number>> | undefined;
    const latest = s.latestOffset as Record<string, Record<string, number>> | undefined;
    if (!end || !latest || typeof end !== 'object' || typeof latest !== 'object') continue;
    for (const [topic, parts] of Object.entries(latest)) {
      for (const [part, off] of Object.entries(parts)) {
        total = (total ?? 0) + Math.max(0, off - (end[topic]?.[part] ?? 0));
      }
    }
  }
  return total;
}
