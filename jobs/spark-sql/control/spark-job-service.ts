/**
 * A Spark SQL job as a supervised service: `tsx spark-job-service.ts <job>` submits the job through the spark-jobs
 * helpers (schemas registered, topics checked, checkpoint of its stateful shape), stays up while the job runs,
 * and on SIGTERM/SIGINT stops it gracefully (the micro-batch in flight commits) and exits 0. If the job dies on
 * its own, this exits 1, so the supervisor sees the crash. Configuration: the job scripts' environment
 * (KAFKA_BROKERS, SCHEMA_REGISTRY_URL, REACTIONS_TOPIC, AGGREGATES_TOPIC, SPARK_JOBS_STATE, SPARK_MASTER, …).
 *
 * spark-submit runs in a process group of its own (job-runner detaches it), so the supervisor's group signals do
 * not reach it: stopping it is this process's job, which is why every way out goes through {@link shutdown}.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../common/logger.ts';
import { loadJob } from './job-header.ts';
import {
  isAlive,
  killGroup,
  readMeta,
  readStatus,
  runPaths,
  stopJob,
  submitJob,
  waitForRunning,
} from './job-runner.ts';
import { jobFile, loadJobsConfig } from './jobs-config.ts';

const logger = createLogger('spark-job');
const STOP_TIMEOUT_MS = 60_000;

const name = process.argv[2] ?? '';
let launcherPid: number | undefined;
let running = false;
let shuttingDown: Promise<never> | undefined;

async function shutdown(code: number, why: string): Promise<never> {
  shuttingDown ??= (async () => {
    logger.info({ why }, 'stopping the job');
    if (launcherPid !== undefined && isAlive(launcherPid)) {
      if (running) {
        try {
          await stopJob(runPaths(loadJobsConfig(), name), STOP_TIMEOUT_MS);
          logger.info('job stopped; checkpoint kept');
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'graceful stop failed; job killed');
          code = code || 1;
        }
      } else {
        // Not running yet: nothing processed, nothing to commit.
        killGroup(launcherPid);
      }
    }
    process.exit(code);
  })();
  return shuttingDown;
}

process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGINT', () => void shutdown(0, 'SIGINT'));

try {
  const config = loadJobsConfig();
  const job = await loadJob(jobFile(name));
  const paths = runPaths(config, job.name);
  // A run left by a supervisor that was killed outright, in this state dir: ours, and in the way.
  const stale = await readMeta(paths);
  if (stale && isAlive(stale.launcherPid)) {
    logger.warn({ pid: stale.launcherPid }, 'killing a run of this job left by an earlier start');
    killGroup(stale.launcherPid);
    while (isAlive(stale.launcherPid)) await sleep(100);
  }
  const submitted = await submitJob(config, job, { waitRunning: false });
  launcherPid = submitted.meta.launcherPid;
  logger.info(
    { pid: launcherPid, checkpoint: submitted.meta.checkpoint, resumed: submitted.resumed, log: paths.log },
    'submitted',
  );
  await waitForRunning(paths, launcherPid, 280_000);
  running = true;
  logger.info({ source: submitted.meta.source, sink: submitted.meta.sink }, 'running');
  while (!shuttingDown) {
    await sleep(1000);
    if (shuttingDown) break;
    if (!isAlive(launcherPid)) {
      const status = await readStatus(paths);
      logger.error({ status, log: paths.log }, 'the job exited on its own');
      await shutdown(1, 'job exited');
    }
  }
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'the job did not start');
  await shutdown(1, 'start failed');
}
