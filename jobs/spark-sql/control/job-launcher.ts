/**
 * The engine-neutral job launcher: what every launch path (npm start through main.ts, the job verbs, tests) holds,
 * whichever engine runs the job. {@link createJob} picks the launcher by the plan's engine: {@link createSparkJob}
 * (spark-submit) or {@link createFlinkJob} (PyFlink).
 */
import type { Logger } from '../../../common/logger.ts';
import type { FlinkRuntime } from '../../../infra/local/flink-runtime.ts';
import { createFlinkJob } from './flink-job.ts';
import type { JobPlan } from './job-plan.ts';
import type { JobsConfig } from './jobs-config.ts';
import type { RunPaths } from './run-dir.ts';
import { createSparkJob, type JobStatus, type Started, type StartOptions } from './spark-job.ts';
import type { SparkRuntime } from './spark-runtime.ts';

/** One job's run on its engine: one driver per checkpoint, started and stopped through its run directory. */
export interface JobLauncher {
  readonly plan: JobPlan;
  readonly paths: RunPaths;
  /** Registers the schemas, ensures the topics and starts the driver in the background (own process group). */
  start(options?: StartOptions): Promise<Started>;
  /** Stops the run gracefully (state committed or checkpointed); false when it was not running. */
  stop(timeoutMs?: number): Promise<boolean>;
  /** State of the run, from any process. */
  status(progressEntries?: number): Promise<JobStatus>;
}

/** What every launcher needs. */
export interface LauncherDeps {
  config: JobsConfig;
  logger?: Logger;
}

/** Dependencies of {@link createJob}: the common ones and each engine's runtime (default: the provisioned one). */
export interface JobDeps extends LauncherDeps {
  runtime?: SparkRuntime;
  flinkRuntime?: FlinkRuntime;
}

/** The launcher of `plan` on its engine. */
export function createJob(plan: JobPlan, deps: JobDeps): JobLauncher {
  return plan.engine === 'flink' ? createFlinkJob(plan, deps) : createSparkJob(plan, deps);
}
