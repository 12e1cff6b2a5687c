#!/usr/bin/env tsx
import { argv, chalk } from 'zx';
/**
 * job:submit <job> — registers the job's schemas, creates its sink topic if missing and starts it with spark-submit (local[2] by default, or
 * SPARK_MASTER), in the background, on the checkpoint of its stateful shape. Waits until the query runs.
 *
 *   npm run job:submit -- emoji-swarm            # a job in jobs/spark-sql
 *   npm run job:submit -- path/to/my-job.yml     # any job file (its .sql beside it)
 *   npm run job:submit -- emoji-swarm --engine flink   # on another engine the job lists (default: its first)
 *
 * On Flink: a local mini-cluster in the runner's process, or the cluster at FLINK_REST_ADDRESS (host:port of its
 * REST endpoint); PyFlink and the connector jars are provisioned on first use.
 */
import { ConfigError } from '../common/env.ts';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { createJob } from '../jobs/spark-sql/control/job-launcher.ts';
import { type Engine, loadPlan } from '../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';

async function main(): Promise<void> {
  const [name] = argv._;
  if (typeof name !== 'string') throw new JobError('usage: job:submit <job name or .yml path>');
  const config = loadJobsConfig();
  const engine = argv.engine === undefined ? undefined : (String(argv.engine) as Engine);
  const plan = await loadPlan(name, config, engine);
  const where =
    plan.engine === 'flink' ? (config.flink.restAddress ?? 'a local Flink mini-cluster') : config.master;
  console.log(`submitting ${plan.name} to ${where} …`);
  const { meta, paths, resumed, otherShapes } = await createJob(plan, { config }).start();
  console.log(
    `${chalk.green('running')} ${plan.name}: ${meta.source} → ${meta.sink}, launcher pid ${meta.launcherPid}\n` +
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
  console.error(
    chalk.red(
      err instanceof JobError || err instanceof ConfigError
        ? err.message
        : String((err as Error).stack ?? err),
    ),
  );
  process.exit(1);
});
