/**
 * One Spark SQL job as a foreground service: `node --import tsx jobs/spark-sql/control/main.ts <job>` starts the
 * job through {@link createSparkJob}, stays up while it runs, and on SIGTERM/SIGINT stops it gracefully (the
 * micro-batch in flight commits) and exits 0; if the job dies on its own it exits 1, so the supervisor (npm start,
 * compose's restart policy) sees the crash. Configuration: the job environment of jobs-config.ts.
 *
 * The driver runs in a process group of its own, so a supervisor's group signal does not reach it: stopping it is
 * this process's job, which is why every way out goes through `shutdown`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../common/logger.ts';
import { loadPlan } from './job-plan.ts';
import { loadJobsConfig } from './jobs-config.ts';
import { createSparkJob, type SparkJob } from './spark-job.ts';

const STOP_TIMEOUT_MS = 60_000;
const name = process.argv[2] ?? '';
const logger = createLogger('spark-job').child({ job: name });

let job: SparkJob | undefined;
let shuttingDown: Promise<never> | undefined;

function shutdown(code: number, why: string): Promise<never> {
  shuttingDown ??= (async () => {
    logger.info({ why }, 'stopping the job');
    try {
      if (job && (await job.stop(STOP_TIMEOUT_MS))) logger.info('job stopped; checkpoint kept');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'graceful stop failed; job killed');
      code = code || 1;
    }
    process.exit(code);
  })();
  return shuttingDown;
}

process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGINT', () => void shutdown(0, 'SIGINT'));

try {
  const config = loadJobsConfig();
  job = createSparkJob(await loadPlan(name, config), { config, logger });
  // replace: a run left in this state dir by a supervisor that was killed outright is ours, and in the way.
  await job.start({ replace: true });
  while (!shuttingDown) {
    await sleep(1000);
    if (shuttingDown) break;
    const status = await job.status(1);
    if (status.state !== 'running') {
      logger.error(
        { state: status.state, error: status.error, log: job.paths.log },
        'the job exited on its own',
      );
      await shutdown(1, 'job exited');
    }
  }
} catch (err) {
  logger.fatal({ err: (err as Error).message }, 'the job did not start');
  await shutdown(1, 'start failed');
}
