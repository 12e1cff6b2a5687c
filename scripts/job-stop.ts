#!/usr/bin/env tsx
import { argv, chalk } from 'zx';
/**
 * job:stop <job> — stops a running job gracefully: the runner lets the micro-batch in flight commit, stops the
 * query and exits; the checkpoint is kept, so job:submit resumes where it stopped. A job sharing its driver with
 * others (npm start runs every Spark job in one) stops with them, and the output names them.
 */
import { ConfigError } from '../common/env.ts';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { readMeta, runPaths, stopRun } from '../jobs/spark-sql/control/run-dir.ts';

async function main(): Promise<void> {
  const [arg] = argv._;
  if (typeof arg !== 'string') throw new JobError('usage: job:stop <job name>');
  // By name, not by plan: a job whose files were edited (or removed) since it started can still be stopped.
  const name = arg.replace(/^.*\//, '').replace(/\.(sql|yml)$/, '');
  const paths = runPaths(loadJobsConfig(), name);
  const together = (await readMeta(paths))?.driverJobs ?? [name];
  const stopped = await stopRun(paths);
  console.log(
    stopped
      ? `${chalk.green('stopped')} ${together.join(', ')}${together.length > 1 ? ' (one driver)' : ''}`
      : `${name} is not running`,
  );
}

main().catch((err: unknown) => {
  console.error(
    chalk.red(
      err instanceof JobError || err instanceof ConfigError
        ? err.message
        : String((err as Error).stack ?? err),
    ),
  );
  process.exit(1);
});
