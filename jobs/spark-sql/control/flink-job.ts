/**
 * The launcher of a job on Flink: {@link createFlinkJob} is {@link createSparkJob}'s twin behind the same
 * {@link JobLauncher} interface — the same run directory (plan.json, status.json, progress.jsonl, meta.json,
 * driver.log), the same driver lock (one run per job and checkpoint, whichever engine), the same topics and schema
 * registration ({@link prepareRun}). The driver is `flink_runner.py stream` in the Flink virtualenv: a local
 * mini-cluster inside that process by default, or a client of the Flink cluster at `FLINK_REST_ADDRESS`.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RegistryAuth } from '../../../common/client-security.ts';
import { type FlinkRuntime, flinkRuntime } from '../../../infra/local/flink-runtime.ts';
import { freePort } from '../../../infra/local/ports.ts';
import { ownerRecord, processStartTime, releaseDriverLock, transferDriverLock } from './driver-lock.ts';
import { JobError } from './errors.ts';
import type { JobLauncher, LauncherDeps } from './job-launcher.ts';
import { isUriRoot, type JobPlan } from './job-plan.ts';
import { FLINK_RUNNER, type JobsConfig } from './jobs-config.ts';
import { killGroup, type RunMeta, runPaths, waitForRunning } from './run-dir.ts';
import { prepareRun, type RunnerPlan, runHandle, type Started, type StartOptions } from './spark-job.ts';

/** The JSON `flink_runner.py stream --plan` reads: the Spark runner's plan plus what the Flink formats need. */
export interface FlinkRunnerPlan extends RunnerPlan {
  /** The registry's Confluent-compatible URL: Flink's avro-confluent format reads and writes through it. */
  registryUrl: string;
  /**
   * The registry's basic-auth user (common/client-security.ts), which the format logs in as: the password's file,
   * or none when it came from SCHEMA_REGISTRY_PASSWORD (then read from the runner's environment), never the
   * password. Kafka's login is the Spark plan's `kafka.security`, read alike.
   */
  registryAuth?: { username: string; passwordFile?: string };
  flink: {
    /** A cluster's REST endpoint, or absent for the local mini-cluster. */
    restAddress?: string;
    /** Port of the local mini-cluster's REST endpoint, which the runner reads progress from. */
    restPort: number;
    parallelism: number;
    checkpointInterval: string;
  };
}

/** Dependencies of {@link createFlinkJob}. */
export interface FlinkJobDeps extends LauncherDeps {
  /** @default the provisioned Flink runtime (provisioned now if missing) */
  flinkRuntime?: FlinkRuntime;
}

/** Other checkpoints of the same job on Flink (older shapes), kept on disk but never resumed. */
async function otherFlinkCheckpoints(config: JobsConfig, plan: JobPlan): Promise<string[]> {
  if (isUriRoot(config.checkpointRoot)) return [];
  const names = await readdir(config.checkpointRoot).catch(() => [] as string[]);
  return names
    .filter((n) => new RegExp(`^${plan.name}-flink-[0-9a-f]{12}$`).test(n))
    .map((n) => path.join(config.checkpointRoot, n))
    .filter((p) => p !== plan.checkpoint);
}

/** The plan's form of the registry's credentials: the user and the password's file, not the password. */
export function flinkRegistryAuth(auth: RegistryAuth): NonNullable<FlinkRunnerPlan['registryAuth']> {
  return { username: auth.username, ...(auth.passwordFile ? { passwordFile: auth.passwordFile } : {}) };
}

/** `2 seconds` → `2 s`: Flink's duration syntax. */
const flinkDuration = (interval: string) => interval.replace(/^(\d+) (\w+?)s?$/, '$1 $2');

/** Creates the Flink launcher of one job (a plan resolved for `flink`) under `deps.config`'s state dir. */
export function createFlinkJob(plan: JobPlan, deps: FlinkJobDeps): JobLauncher {
  if (plan.engine !== 'flink')
    throw new JobError(`createFlinkJob: ${plan.name} is planned for ${plan.engine}`);
  const { config } = deps;
  const paths = runPaths(config, plan.name);

  async function submit(options: StartOptions, lock: string): Promise<Started> {
    const rt = deps.flinkRuntime ?? (await flinkRuntime());
    const resumed = !isUriRoot(plan.checkpoint) && existsSync(plan.checkpoint);
    const otherShapes = await otherFlinkCheckpoints(config, plan);
    const runnerPlan: FlinkRunnerPlan = {
      ...(await prepareRun(plan, config, paths.dir, deps.logger)),
      driverLock: lock,
      registryUrl: config.registryUrl,
      ...(config.security.registry ? { registryAuth: flinkRegistryAuth(config.security.registry) } : {}),
      flink: {
        ...(config.flink.restAddress ? { restAddress: config.flink.restAddress } : {}),
        restPort: config.flink.restAddress ? 0 : await freePort(),
        parallelism: config.flink.parallelism,
        checkpointInterval: flinkDuration(config.flink.checkpointInterval),
      },
    };
    await Promise.all([rm(paths.status, { force: true }), rm(paths.progress, { force: true })]);
    await writeFile(paths.plan, JSON.stringify(runnerPlan, null, 2));
    const inherit = config.driverOutput === 'inherit';
    if (!inherit && existsSync(paths.log)) await rename(paths.log, `${paths.log}.previous`);
    const log = inherit ? undefined : openSync(paths.log, 'w');
    const child = spawn(rt.python, [FLINK_RUNNER, 'stream', '--plan', paths.plan], {
      // Its own process group (runner and its JVM): a supervisor's group signal must not cut a checkpoint short.
      detached: true,
      stdio: log === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', log, log],
      env: {
        ...process.env,
        ...rt.env,
        // Flink's own log (flink-*-python-vm.log) beside the runner's, not in the shared virtualenv.
        FLINK_LOG_DIR: paths.dir,
        ...(options.tieTo
          ? {
              EMOSTREAM_DRIVER_TIE_PID: String(options.tieTo),
              EMOSTREAM_DRIVER_TIE_START: processStartTime(options.tieTo) ?? '',
            }
          : {}),
      },
    });
    if (log !== undefined) closeSync(log);
    const pid = child.pid;
    if (pid === undefined) throw new JobError(`the Flink runner did not start (${rt.python})`);
    child.unref();
    await transferDriverLock(lock, ownerRecord(plan.name, pid, options.tieTo));
    const meta: RunMeta = {
      job: plan.name,
      file: plan.file,
      launcherPid: pid,
      checkpoint: plan.checkpoint,
      source: plan.source.topic,
      sink: plan.sink.topic,
      master: config.flink.restAddress ? `flink ${config.flink.restAddress}` : 'flink local mini-cluster',
      submittedAt: new Date().toISOString(),
      engine: 'flink',
    };
    await writeFile(paths.meta, JSON.stringify(meta, null, 2));
    deps.logger?.info({ pid, checkpoint: plan.checkpoint, resumed, log: paths.log }, 'submitted to Flink');
    if (options.waitRunning ?? true) {
      try {
        await waitForRunning(paths, pid, options.timeoutMs ?? 280_000);
      } catch (err) {
        killGroup(pid);
        await releaseDriverLock(lock, pid);
        throw err;
      }
      deps.logger?.info({ source: plan.source.topic, sink: plan.sink.topic }, 'running on Flink');
    }
    return { meta, paths, resumed, otherShapes };
  }

  return runHandle(plan, paths, deps.logger, submit);
}
