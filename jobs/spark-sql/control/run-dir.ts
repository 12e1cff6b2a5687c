/**
 * A job's run directory (`<SPARK_JOBS_STATE>/runs/<job>`): what the launcher and the runner write there, and how
 * the other verbs (status, stop) read it from any process.
 */

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive } from '../../../infra/local/supervisor.ts';
import { lockFile, releaseDriverLock } from './driver-lock.ts';
import { JobError } from './errors.ts';
import type { JobsConfig } from './jobs-config.ts';

/** Files of one job's run directory. */
export interface RunPaths {
  dir: string;
  /** The resolved plan the runner executes (`runner.py stream --plan`). */
  plan: string;
  /** Written by the runner: `{state: running|stopped|failed, pid, …}`. */
  status: string;
  /** One Spark StreamingQueryProgress JSON per line, appended by the runner. */
  progress: string;
  /** Written at start: launcher pid, checkpoint, topics. */
  meta: string;
  /** spark-submit's stdout and stderr (unless the driver output is inherited); the previous run's is `driver.log.previous`. */
  log: string;
}

/** The run directory of a job under a configuration's state dir. */
export function runPaths(config: Pick<JobsConfig, 'stateDir'>, jobName: string): RunPaths {
  return runPathsIn(path.join(config.stateDir, 'runs', jobName));
}

/** The files of a run directory. */
export function runPathsIn(dir: string): RunPaths {
  return {
    dir,
    plan: path.join(dir, 'plan.json'),
    status: path.join(dir, 'status.json'),
    progress: path.join(dir, 'progress.jsonl'),
    meta: path.join(dir, 'meta.json'),
    log: path.join(dir, 'driver.log'),
  };
}

/** What the launcher records beside a run. */
export interface RunMeta {
  job: string;
  file: string;
  launcherPid: number;
  checkpoint: string;
  source: string;
  sink: string;
  master: string;
  submittedAt: string;
  /** Every job of the run's driver, when it runs several (spark-job.ts createSparkDriver); absent: this one alone. */
  driverJobs?: string[];
  /** The engine the run is on (absent: Spark, as before engines existed). */
  engine?: 'spark' | 'flink';
}

/** What the runner reports in status.json. */
export interface RunStatus {
  state: 'running' | 'stopped' | 'failed';
  pid: number;
  /** Epoch seconds the state was written (running, stopped). */
  since?: number;
  error?: string;
}

/** Whether a process is alive: the supervisor's probe (re-exported for the job verbs). */
export { isAlive };

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The runner's status, if it wrote one. */
export const readStatus = (p: RunPaths) => readJson<RunStatus>(p.status);
/** The launcher's record of the run, if any. */
export const readMeta = (p: RunPaths) => readJson<RunMeta>(p.meta);

/** The launcher pid of the job's previous run if it is still alive. */
export async function runningPid(paths: RunPaths): Promise<number | undefined> {
  const meta = await readMeta(paths);
  return meta && isAlive(meta.launcherPid) ? meta.launcherPid : undefined;
}

/** The last lines of a file ('' when absent). */
export async function tail(file: string, lines = 30): Promise<string> {
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

/** Kills a job's whole process group (launcher JVM and Python runner) at once: a crash, not a stop. */
export function killGroup(launcherPid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-launcherPid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stops a run gracefully: SIGTERM to the runner, which lets the micro-batch in flight commit and stops the query;
 * after `timeoutMs` the launcher's process group is killed. Returns false when the job was not running.
 */
export async function stopRun(paths: RunPaths, timeoutMs = 90_000): Promise<boolean> {
  const meta = await readMeta(paths);
  if (!meta || !isAlive(meta.launcherPid)) return false;
  const status = await readStatus(paths);
  process.kill(status?.pid && isAlive(status.pid) ? status.pid : meta.launcherPid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(meta.launcherPid) && Date.now() < deadline) await sleep(200);
  // The runner releases the lock as it ends; this covers a driver that could not (killed, or died on its own).
  if (isAlive(meta.launcherPid)) {
    killGroup(meta.launcherPid, 'SIGKILL');
    await releaseDriverLock(lockFile(paths.dir), meta.launcherPid);
    throw new JobError(`job ${meta.job} did not stop within ${timeoutMs} ms; killed`);
  }
  await releaseDriverLock(lockFile(paths.dir), meta.launcherPid);
  return true;
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
    operatorName?: string;
    numRowsTotal?: number;
    numRowsUpdated?: number;
    numRowsRemoved?: number;
    numRowsDroppedByWatermark?: number;
    allUpdatesTimeMs?: number;
    allRemovalsTimeMs?: number;
    commitTimeMs?: number;
  }[];
}

/** Offsets behind the latest, from the Kafka source's end and latest offsets, summed over partitions. */
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
