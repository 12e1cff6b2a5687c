#!/usr/bin/env tsx
/**
 * job:submit <job> — registers the job's schemas and starts it with spark-submit (local[2] by default, or
 * SPARK_MASTER), in the background, on the checkpoint of its stateful shape. Waits until the query runs.
 *
 *   npm run job:submit -- emoji-swarm            # a job in jobs/spark-sql
 *   npm run job:submit -- path/to/my-job.sql     # any job file
 */
import { argv, chalk } from 'zx';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { loadJob } from '../jobs/spark-sql/control/job-header.ts';
import { submitJob } from '../jobs/spark-sql/control/job-runner.ts';
import { jobFile, loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';

async function main(): Promise<void> {
  const [name] = argv._;
  if (typeof name !== 'string') throw new JobError('usage: job:submit <job name or .sql path>');
  const config = loadJobsConfig();
  const job = await loadJob(jobFile(name));
  console.log(`submitting ${job.name} to ${config.master} …`);
  const { meta, paths, resumed, otherShapes } = await submitJob(config, job);
  console.log(
    `${chalk.green('running')} ${job.name}: ${meta.source} → ${meta.sink}, launcher pid ${meta.launcherPid}\n` +
      `  checkpoint ${meta.checkpoint} (${resumed ? 'resumed' : 'new'})\n  driver log ${paths.log}`,
  );
  if (otherShapes.length > 0) {
    console.log(
      chalk.yellow(
        `  the job's stateful shape changed since ${otherShapes.length === 1 ? 'a checkpoint' : 'checkpoints'} ` +
          `${otherShapes.join(', ')}: not resumed (kept on disk; delete when no longer needed)`,
      ),
    );
  }
}

main().catch((err: unknown) => {
  console.error(chalk.red(err instanceof JobError ? err.message : String((err as Error).stack ?? err)));
  process.exit(1);
});
