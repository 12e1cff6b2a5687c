/**
 * One driver per checkpoint and no driver without its launcher, on real Kafka, registry and Spark (local[2]):
 * - a second start on a live driver's checkpoint is refused naming the owner; a SIGKILLed driver's lock is stale
 *   and the next start takes it over (and resumes the checkpoint);
 * - SIGKILL of spark-submit's JVM alone (the job:submit case) takes its python runner down with it;
 * - SIGKILL of main.ts (the launcher npm start supervises) takes the JVM and the runner down within seconds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafka, ensureTopic, KafkaLogLevel } from '../../../common/kafka.ts';
import { repoRoot } from '../../../infra/local/versions.ts';
import { DriverLockedError, lockFile, readLock } from './driver-lock.ts';
import { loadPlan } from './job-plan.ts';
import { loadJobsConfig } from './jobs-config.ts';
import { isAlive, killGroup, readMeta, readStatus, runPaths } from './run-dir.ts';
import { createSparkJob } from './spark-job.ts';

const JOB = 'emoji-swarm';
const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const spark = inject('spark');
const id = randomUUID().slice(0, 8);
const launched: number[] = [];
const children: ChildProcess[] = [];
let stateDir: string;

/** The job's environment on its own topics and state dir. */
function jobEnv(name: string): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    SPARK_JOBS_STATE: path.join(stateDir, name),
    REACTIONS_TOPIC: `it.driver.${id}.${name}.reactions`,
    AGGREGATES_TOPIC: `it.driver.${id}.${name}.aggregates`,
  };
}

async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  withinMs: number,
): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await sleep(200);
  }
  return Date.now() - start;
}

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'emostream-driver-it-'));
  const kafka = createKafka({
    clientId: 'driver-lifecycle-it',
    brokers,
    logger: pino({ level: 'silent' }),
    logLevel: KafkaLogLevel.ERROR,
  });
  for (const name of ['lock', 'tied'])
    await ensureTopic(kafka, { topic: jobEnv(name).REACTIONS_TOPIC ?? '', partitions: 2 });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const pid of launched) if (isAlive(pid)) killGroup(pid);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('Spark driver lifecycle', () => {
  it('refuses a second driver on a live checkpoint, takes over a dead one, and a JVM kill takes its runner', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const config = loadJobsConfig(jobEnv('lock'));
    const plan = await loadPlan(JOB, config);
    const first = await createSparkJob(plan, { config, runtime: spark, logger }).start();
    launched.push(first.meta.launcherPid);
    const lock = lockFile(first.paths.dir);
    expect(await readLock(lock)).toMatchObject({
      pid: first.meta.launcherPid,
      job: JOB,
      host: os.hostname(),
    });

    const second = createSparkJob(plan, { config, runtime: spark, logger }).start();
    await expect(second).rejects.toBeInstanceOf(DriverLockedError);
    await expect(second).rejects.toThrow(
      new RegExp(`driver pid ${first.meta.launcherPid} .*npm run job:stop ${JOB}`),
    );
    // The refused start left the live driver and its lock alone.
    expect(isAlive(first.meta.launcherPid)).toBe(true);
    expect((await readLock(lock))?.pid).toBe(first.meta.launcherPid);

    // A crash of the whole driver: nobody releases the lock, so the next start must take it over.
    killGroup(first.meta.launcherPid);
    await until('first driver gone', () => !isAlive(first.meta.launcherPid), 10_000);
    expect((await readLock(lock))?.pid).toBe(first.meta.launcherPid);
    const third = await createSparkJob(plan, { config, runtime: spark, logger }).start();
    launched.push(third.meta.launcherPid);
    expect(third.resumed).toBe(true);
    expect(lines.join('')).toContain(`took over the driver lock of pid ${first.meta.launcherPid}`);
    expect((await readLock(lock))?.pid).toBe(third.meta.launcherPid);

    // job:submit's case: the JVM alone is SIGKILLed; its python runner must not stay behind.
    const runner = (await readStatus(third.paths))?.pid ?? 0;
    expect(isAlive(runner)).toBe(true);
    process.kill(third.meta.launcherPid, 'SIGKILL');
    const took = await until('runner gone after its JVM', () => !isAlive(runner), 15_000);
    process.stderr.write(`python runner exited ${took} ms after its JVM was SIGKILLed\n`);
    expect(existsSync(lock)).toBe(false);
  }, 600_000);

  it('a SIGKILLed main.ts leaves no JVM or python runner of its run behind', async () => {
    const env = jobEnv('tied');
    const launcher = spawn(process.execPath, ['--import', 'tsx', 'jobs/spark-sql/control/main.ts', JOB], {
      cwd: repoRoot,
      env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(launcher);
    const paths = runPaths(loadJobsConfig(env), JOB);
    await until('driver running', async () => (await readStatus(paths))?.state === 'running', 300_000);
    const jvm = (await readMeta(paths))?.launcherPid ?? 0;
    const runner = (await readStatus(paths))?.pid ?? 0;
    launched.push(jvm);
    expect(isAlive(jvm) && isAlive(runner)).toBe(true);
    expect((await readLock(lockFile(paths.dir)))?.tiedTo).toBe(launcher.pid);

    launcher.kill('SIGKILL');
    const took = await until('JVM and runner gone', () => !isAlive(jvm) && !isAlive(runner), 30_000);
    process.stderr.write(`JVM and runner exited ${took} ms after main.ts was SIGKILLed\n`);
  }, 600_000);
});
