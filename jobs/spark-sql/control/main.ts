/**
 * Jobs as a foreground service: `node --import tsx jobs/spark-sql/control/main.ts <job>[,<job>…] [engine]` starts
 * the jobs and stays up while they run. One job: {@link createJob} (on `engine`, default the job's first: Spark's
 * `createSparkJob` or Flink's launcher). Several: one Spark driver running them all (`createSparkDriver`: one JVM and
 * scheduler, a query and checkpoint each), the way `npm start` runs its Spark jobs; every one must run on Spark. Signals, deadlines and exit codes are
 * common/service.ts's `runMain`: SIGTERM/SIGINT stop the job gracefully (the micro-batch in flight commits) and
 * exit 0; a driver that dies on its own ends the service, so the process exits 1 and the supervisor (npm start,
 * compose's restart policy) sees the crash. Configuration: the job environment of jobs-config.ts.
 *
 * The driver runs in a process group of its own, so a supervisor's group signal does not reach it: stopping it is
 * this process's job, which is why it is the service's `stop()`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../common/logger.ts';
import { runMain, type Service } from '../../../common/service.ts';
import { JobError } from './errors.ts';
import { createJob, type JobLauncher } from './job-launcher.ts';
import { type Engine, loadPlan } from './job-plan.ts';
import { loadJobsConfig } from './jobs-config.ts';
import { createSparkDriver } from './spark-job.ts';

/** The runner lets the micro-batch in flight commit; the supervisor allows this process 75 s in all. */
const STOP_TIMEOUT_MS = 60_000;
/** How often the driver's liveness is checked. */
const POLL_MS = 1_000;

const names = (process.argv[2] ?? '').split(',').filter((n) => n !== '');
const engine = process.argv[3] as Engine | undefined;
const logger = createLogger('spark-job').child({ job: names.join(',') });

/** The job as a {@link Service}: `ended` settles when the driver is no longer running without being asked. */
function jobService(): Service {
  let job: JobLauncher | undefined;
  let stopping: Promise<void> | undefined;
  let endedWith: (why: unknown) => void = () => {};
  const ended = new Promise<unknown>((resolve) => {
    endedWith = resolve;
  });
  const watch = async (running: JobLauncher) => {
    while (!stopping) {
      await sleep(POLL_MS);
      if (stopping) return;
      const status = await running.status(1);
      if (status.state !== 'running') {
        endedWith({ state: status.state, error: status.error, log: running.paths.log });
        return;
      }
    }
  };
  return {
    ended,
    async start() {
      const config = loadJobsConfig();
      const plans = await Promise.all(names.map((n) => loadPlan(n, config, engine)));
      const [plan] = plans;
      if (!plan) throw new JobError('usage: main.ts <job>[,<job>…] [engine]');
      if (plans.length === 1) job = createJob(plan, { config, logger });
      else {
        const other = plans.filter((p) => p.engine !== 'spark').map((p) => `${p.name} (${p.engine})`);
        if (other.length > 0) {
          throw new JobError(
            `only Spark runs several jobs in one driver; not: ${other.join(', ')}. Start each alone.`,
          );
        }
        job = createSparkDriver(plans, { config, logger });
      }
      // tieTo: the driver ends when this process does, even by SIGKILL. replace: a driver whose launcher is gone
      // (left by one killed outright, before its runner noticed) is ours, and in the way; any other is refused.
      await job.start({ replace: true, tieTo: process.pid });
      void watch(job);
    },
    stop() {
      stopping ??= (async () => {
        if (job && (await job.stop(STOP_TIMEOUT_MS))) logger.info('job stopped; checkpoint kept');
      })();
      return stopping;
    },
  };
}

await runMain(jobService(), logger, { forceExitMs: STOP_TIMEOUT_MS + 10_000 });
