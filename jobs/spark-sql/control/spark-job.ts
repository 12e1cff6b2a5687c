/**
 * The one launcher of a Spark SQL job: {@link createSparkJob} turns a resolved {@link JobPlan} into a small object
 * (`start()`, `stop()`, `status()`) that `npm start`'s supervisor (through `main.ts`), compose (`main.ts` as the
 * entrypoint), the job verbs and the tests use. The container suite, whose driver runs in an image without Node,
 * uses the same two halves: {@link prepareRun} (topics, schemas, the plan JSON) and {@link runnerArgs}.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRegistryClient, registerSchema, valueSubject } from '../../../common/avro-serde.ts';
import type {
  ClientSecurity,
  KafkaSaslMechanism,
  KafkaSecurityProtocol,
} from '../../../common/client-security.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../../../common/kafka.ts';
import { createLogger, type Logger } from '../../../common/logger.ts';
import {
  acquireDriverLock,
  isRunning,
  lockFile,
  ownerAlive,
  ownerRecord,
  processStartTime,
  readLock,
  releaseDriverLock,
  transferDriverLock,
} from './driver-lock.ts';
import { JobError } from './errors.ts';
import { isUriRoot, type JobPlan } from './job-plan.ts';
import { DEFAULT_DRIVER_MEMORY, type JobsConfig, LOG4J_CONFIG, RUNNER } from './jobs-config.ts';
import {
  isAlive,
  killGroup,
  type RunMeta,
  type RunPaths,
  readMeta,
  readProgress,
  readStatus,
  runPaths,
  type StreamingProgress,
  stopRun,
  waitForRunning,
} from './run-dir.ts';
import { resolveSparkRuntime, type SparkRuntime } from './spark-runtime.ts';

/** The JSON `runner.py stream --plan` reads: the plan plus the deployment's run-time settings. */
export interface RunnerPlan extends JobPlan {
  sink: JobPlan['sink'] & {
    /** Registry id of the sink schema, framed into every record. */ schemaId: number;
  };
  kafka: {
    brokers: string;
    startingOffsets: 'earliest' | 'latest';
    maxOffsetsPerTrigger?: number;
    security?: RunnerKafkaSecurity;
  };
  /** Where the runner writes status.json and progress.jsonl. */
  runDir: string;
  /** Spark UI port, or `off`. */
  uiPort: string;
  /** The run's driver lock (driver-lock.ts), which the runner removes when the driver ends. */
  driverLock?: string;
}

/**
 * What runner.py needs to log in to Kafka, without the password: the plan is a file anyone reading the run dir sees,
 * so it names the password's file, or (when the password came from KAFKA_SASL_PASSWORD) nothing, and the runner
 * reads that variable from the environment spark-submit inherits.
 */
export interface RunnerKafkaSecurity {
  protocol: KafkaSecurityProtocol;
  sasl?: { mechanism: KafkaSaslMechanism; username: string; passwordFile?: string };
  /** PEM CA file: the source's and sink's truststore (`ssl.truststore.type=PEM`). */
  caFile?: string;
}

/** The plan's form of `security` (see {@link RunnerKafkaSecurity}). */
export function runnerKafkaSecurity(security: ClientSecurity['kafka']): RunnerKafkaSecurity {
  const { sasl, caFile, protocol } = security;
  return {
    protocol,
    ...(sasl
      ? {
          sasl: {
            mechanism: sasl.mechanism,
            username: sasl.username,
            ...(sasl.passwordFile ? { passwordFile: sasl.passwordFile } : {}),
          },
        }
      : {}),
    ...(caFile ? { caFile } : {}),
  };
}

/**
 * JVM options giving a local driver a class-data-sharing archive of its own classes (AppCDS): most of a Spark
 * driver's start on two cores is loading and verifying some ten thousand classes, which a warm start then maps from
 * the archive instead. The first run without an archive writes it when its JVM exits (a graceful stop; a killed
 * driver writes none and the next run tries again); later runs use it. The name carries the JDK, the Spark version
 * and the jars, so a change of any of them makes a new archive rather than one the JVM would refuse (it then runs
 * without, after a warning). One per job: two drivers exiting together never write the same file.
 */
export function driverClassArchive(runDir: string, rt: SparkRuntime): string[] {
  const key = createHash('sha256')
    .update(JSON.stringify([rt.env.JAVA_HOME ?? '', rt.version, rt.jars]))
    .digest('hex')
    .slice(0, 12);
  const archive = path.join(runDir, `driver-classes-${key}.jsa`);
  return existsSync(archive) ? [`-XX:SharedArchiveFile=${archive}`] : [`-XX:ArchiveClassesAtExit=${archive}`];
}

/** Options of {@link runnerArgs}. */
export interface DriverOptions {
  /** `spark.driver.memory`. @default DEFAULT_DRIVER_MEMORY */
  driverMemory?: string;
  /** More options of the driver's JVM (e.g. {@link driverClassArchive}'s). @default none */
  javaOptions?: readonly string[];
}

/**
 * spark-submit arguments running the runner: master, quiet logs, driver heap, connector jars, the runner, then
 * `args`.
 */
export function runnerArgs(
  rt: SparkRuntime,
  master: string,
  args: string[],
  options: DriverOptions = {},
): string[] {
  return [
    '--master',
    master,
    '--name',
    'emostream',
    '--driver-java-options',
    // SerialGC: on two cores G1's concurrent marking and refinement threads compete with the tasks, and
    // ParallelGC's throughput goal grows the heap to its bound; Serial grows it only as far as live data needs, and
    // its pauses on a heap this small do not matter next to a 1 s trigger. -Xms64m: the JVM's default initial heap,
    // 1/64 of the machine's memory, would otherwise be touched in full by a driver that needs far less.
    [
      `-Dlog4j.configurationFile=file:${LOG4J_CONFIG}`,
      '-XX:+UseSerialGC',
      '-Xms64m',
      ...(options.javaOptions ?? []),
    ].join(' '),
    '--conf',
    `spark.driver.memory=${options.driverMemory ?? DEFAULT_DRIVER_MEMORY}`,
    // A local driver stays on loopback; a cluster master must reach the driver on the address Spark picks.
    ...(master.startsWith('local')
      ? ['--conf', 'spark.driver.host=127.0.0.1', '--conf', 'spark.driver.bindAddress=127.0.0.1']
      : []),
    ...(rt.jars.length > 0 ? ['--jars', rt.jars.join(',')] : []),
    RUNNER,
    ...args,
  ];
}

/**
 * Checks the source topic exists (Spark would otherwise die mid-start with UnknownTopicOrPartition) and creates
 * the sink topic when missing, so that a new job needs no topic list edited elsewhere.
 */
export async function ensureJobTopics(
  brokers: string,
  plan: JobPlan,
  logger?: Logger,
  security?: ClientSecurity,
): Promise<void> {
  const kafka = createKafka({
    brokers,
    ...(security ? { security: security.kafka } : {}),
    clientId: `spark-job-${plan.name}`,
    logger: logger ?? createLogger('spark-job'),
    logLevel: KafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(plan.source.topic)) {
      throw new JobError(
        `source topic ${plan.source.topic} of ${plan.name} does not exist on ${brokers} (the stack creates it)`,
      );
    }
    await ensureTopic(admin, { topic: plan.sink.topic, partitions: plan.sink.partitions });
  } catch (err) {
    if (err instanceof JobError) throw err;
    throw new JobError(`cannot reach Kafka at ${brokers}: ${(err as Error).message}`, { cause: err });
  } finally {
    await admin.disconnect();
  }
}

/** Registers the plan's source and sink schemas under their topics' subjects; returns their ids. */
export async function registerPlanSchemas(
  registryUrl: string,
  plan: JobPlan,
  security?: ClientSecurity,
): Promise<{ source: number; sink: number }> {
  const client = createRegistryClient(registryUrl, security ? { auth: security.registry ?? null } : {});
  const source = await registerSchema(client, valueSubject(plan.source.topic), plan.source.schema);
  const sink = await registerSchema(client, valueSubject(plan.sink.topic), plan.sink.schema);
  return { source, sink };
}

/**
 * Everything before spark-submit: topics checked/created, schemas registered, and the runner's plan for a run in
 * `runDir` (a path as the driver sees it).
 */
export async function prepareRun(
  plan: JobPlan,
  config: JobsConfig,
  runDir: string,
  logger?: Logger,
): Promise<RunnerPlan> {
  await ensureJobTopics(config.brokers, plan, logger, config.security);
  const ids = await registerPlanSchemas(config.registryUrl, plan, config.security);
  return {
    ...plan,
    sink: { ...plan.sink, schemaId: ids.sink },
    kafka: {
      brokers: config.brokers,
      startingOffsets: config.startingOffsets,
      ...(config.maxOffsetsPerTrigger ? { maxOffsetsPerTrigger: config.maxOffsetsPerTrigger } : {}),
      security: runnerKafkaSecurity(config.security.kafka),
    },
    runDir,
    uiPort: config.uiPort,
  };
}

/** Other checkpoints of the same job (older shapes), kept on disk but never resumed. */
export async function otherCheckpoints(config: JobsConfig, plan: JobPlan): Promise<string[]> {
  if (isUriRoot(config.checkpointRoot)) return [];
  const names = await readdir(config.checkpointRoot).catch(() => [] as string[]);
  return names
    .filter((n) => new RegExp(`^${plan.name}-[0-9a-f]{12}$`).test(n))
    .map((n) => path.join(config.checkpointRoot, n))
    .filter((p) => p !== plan.checkpoint);
}

/** Dependencies of {@link createSparkJob}. */
export interface SparkJobDeps {
  config: JobsConfig;
  /** @default the provisioned runtime (`npm run provision`) */
  runtime?: SparkRuntime;
  logger?: Logger;
}

/** Options of {@link SparkJob.start}. */
export interface StartOptions {
  /** Resolve once the runner reports the query running (the default) rather than right after spawning. */
  waitRunning?: boolean;
  /** @default 280000 (Spark starts slowly on two cores) */
  timeoutMs?: number;
  /**
   * Kill a live run of this job whose {@link StartOptions.tieTo} launcher is gone (an orphan a supervisor killed
   * outright left behind) instead of refusing to start. A live run of a live launcher, or one submitted by hand,
   * is always refused (one driver per checkpoint). @default false
   */
  replace?: boolean;
  /**
   * Pid whose end ends the driver: the runner polls it every second and, once it is gone, stops the query and
   * exits, and spark-submit's JVM with it. main.ts passes its own pid, so a SIGKILLed launcher leaves no driver.
   * @default none: the driver runs on its own (`job:submit`), watching only its JVM
   */
  tieTo?: number;
}

/** Result of {@link SparkJob.start}. */
export interface Started {
  meta: RunMeta;
  paths: RunPaths;
  /** Whether the checkpoint already existed (the job resumes where it stopped). */
  resumed: boolean;
  /** Checkpoints of the same job with another stateful shape: not used. */
  otherShapes: string[];
}

/** What {@link SparkJob.status} reports. */
export interface JobStatus {
  job: string;
  /** `dead`: the launcher is gone but the runner never reported stopping (a crash or a kill). */
  state: 'not started' | 'starting' | 'running' | 'stopped' | 'failed' | 'dead';
  meta?: RunMeta;
  error?: string;
  /** The runner's recent progress, oldest first. */
  progress: StreamingProgress[];
}

/** One Spark SQL job: one driver per checkpoint, started and stopped through its run directory. */
export interface SparkJob {
  readonly plan: JobPlan;
  readonly paths: RunPaths;
  /** Registers the schemas, ensures the topics and starts the driver in the background (own process group). */
  start(options?: StartOptions): Promise<Started>;
  /** Stops the run gracefully (the micro-batch in flight commits); false when it was not running. */
  stop(timeoutMs?: number): Promise<boolean>;
  /** State of the run, from any process. */
  status(progressEntries?: number): Promise<JobStatus>;
}

/** One job of a driver: its plan and run directory. */
interface Run {
  plan: JobPlan;
  paths: RunPaths;
}

/** A job's state from its run dir: the runner's status while its launcher lives, `dead` when it died running. */
async function runStatus({ plan, paths }: Run, progressEntries: number): Promise<JobStatus> {
  const [meta, run, progress] = await Promise.all([
    readMeta(paths),
    readStatus(paths),
    readProgress(paths, progressEntries),
  ]);
  if (!meta) return { job: plan.name, state: 'not started', progress };
  const alive = isAlive(meta.launcherPid);
  const state: JobStatus['state'] = alive
    ? (run?.state ?? 'starting')
    : run?.state === 'running' || !run
      ? 'dead'
      : run.state;
  return { job: plan.name, state, meta, progress, ...(run?.error ? { error: run.error } : {}) };
}

/**
 * Takes one job's driver lock for a start: a live run whose {@link StartOptions.tieTo} launcher is gone is killed
 * first on `replace`; a dead owner's lock is taken over; a live one is refused. Returns the lock file.
 */
async function claimRun(
  { plan, paths }: Run,
  options: StartOptions,
  logger: Logger | undefined,
): Promise<string> {
  const lock = lockFile(paths.dir);
  await mkdir(paths.dir, { recursive: true });
  const held = await readLock(lock);
  // Zombies count as gone: a launcher and driver SIGKILLed together stay so until reaped, which a restart at
  // once sees.
  if (held && ownerAlive(held) && options.replace && held.tiedTo !== undefined && !isRunning(held.tiedTo)) {
    logger?.warn(
      { pid: held.pid, launcher: held.tiedTo },
      `killing a driver of ${plan.name} whose launcher is gone (an orphan of a killed supervisor)`,
    );
    killGroup(held.pid);
    const deadline = Date.now() + 10_000;
    while (isRunning(held.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  const { tookOver } = await acquireDriverLock(lock, ownerRecord(plan.name, process.pid, options.tieTo));
  if (tookOver) {
    logger?.warn(
      { owner: tookOver, lock },
      `took over the driver lock of pid ${tookOver.pid} (${tookOver.since}): that driver is gone`,
    );
  }
  return lock;
}

/** One driver process running one or more jobs (a query each), handled as one. */
export interface SparkDriver extends SparkJob {
  /** The driver's jobs; the first is {@link SparkJob.plan}, whose run dir holds the driver log. */
  readonly plans: readonly JobPlan[];
  /** Each job's state, in {@link plans} order. */
  statuses(progressEntries?: number): Promise<JobStatus[]>;
}

/**
 * The engine-independent half of a launcher: one driver process for `runs` (each job's checkpoint owned through its
 * run dir's driver lock; an orphan whose launcher is gone is killed on `replace`, a dead owner's lock is taken
 * over), a graceful stop, and the status any process reads from the run dirs. `submit` starts the engine's process
 * (Spark's driver, Flink's runner) holding `locks` (one per run, in order); a failed submit releases them. The
 * driver's status is the first job's that is not running, else the first job's.
 */
export function driverHandle(
  runs: readonly Run[],
  logger: Logger | undefined,
  submit: (options: StartOptions, locks: string[]) => Promise<Started>,
): SparkDriver {
  const [lead] = runs;
  if (!lead) throw new JobError('a driver needs at least one job');
  let starting: Promise<Started> | undefined;

  async function start(options: StartOptions = {}): Promise<Started> {
    const locks: string[] = [];
    try {
      for (const run of runs) locks.push(await claimRun(run, options, logger));
      return await submit(options, locks);
    } catch (err) {
      for (const lock of locks) await releaseDriverLock(lock, process.pid);
      throw err;
    }
  }

  const statuses = (progressEntries = 30) => Promise.all(runs.map((r) => runStatus(r, progressEntries)));

  return {
    plan: lead.plan,
    paths: lead.paths,
    plans: runs.map((r) => r.plan),
    start(options) {
      starting = start(options).finally(() => {
        starting = undefined;
      });
      return starting;
    },
    async stop(timeoutMs = 90_000) {
      const meta = await readMeta(lead.paths);
      // A start in flight has not reached `running`: nothing processed, nothing to commit.
      if (
        starting &&
        meta &&
        isAlive(meta.launcherPid) &&
        (await readStatus(lead.paths))?.state !== 'running'
      ) {
        killGroup(meta.launcherPid);
        for (const { paths } of runs) await releaseDriverLock(lockFile(paths.dir), meta.launcherPid);
        return true;
      }
      try {
        // One SIGTERM stops every query of the driver; each job's lock is released by the runner as it ends.
        return await stopRun(lead.paths, timeoutMs);
      } finally {
        if (meta)
          for (const { paths } of runs) await releaseDriverLock(lockFile(paths.dir), meta.launcherPid);
      }
    },
    statuses,
    async status(progressEntries = 30) {
      const all = await statuses(progressEntries);
      return all.find((s) => s.state !== 'running') ?? (all[0] as JobStatus);
    },
  };
}

/** {@link driverHandle} of one job (the Flink launcher's: one runner per job). */
export function runHandle(
  plan: JobPlan,
  paths: RunPaths,
  logger: Logger | undefined,
  submit: (options: StartOptions, lock: string) => Promise<Started>,
): SparkJob {
  return driverHandle([{ plan, paths }], logger, (options, [lock]) => submit(options, lock as string));
}

/** Creates the launcher of one job under `deps.config`'s state dir: a driver of its own. */
export function createSparkJob(plan: JobPlan, deps: SparkJobDeps): SparkDriver {
  return createSparkDriver([plan], deps);
}

/**
 * Creates the launcher of one Spark driver running `plans`, one streaming query each (runner.py `stream --plan …`):
 * one JVM, SparkContext and scheduler (FAIR, a pool per job) for all of them, each with its own checkpoint, run dir,
 * status and lock. `npm start` runs its jobs so: a driver per job cost a JVM of memory and CPU each (#14). The driver
 * log is the first job's; the others' `driver.log` links to it.
 */
export function createSparkDriver(plans: readonly JobPlan[], deps: SparkJobDeps): SparkDriver {
  const { config } = deps;
  const runs = plans.map((plan) => ({ plan, paths: runPaths(config, plan.name) }));
  const lead = runs[0] as Run;
  if (runs.length === 0) throw new JobError('a Spark driver needs at least one job');
  const names = plans.map((p) => p.name);
  if (new Set(names).size !== names.length) throw new JobError(`a job is given twice: ${names.join(', ')}`);

  async function submit(options: StartOptions, locks: string[]): Promise<Started> {
    const rt = deps.runtime ?? (await resolveSparkRuntime());
    const prepared = await Promise.all(
      runs.map(async ({ plan, paths }, i) => {
        const resumed = existsSync(plan.checkpoint);
        const otherShapes = await otherCheckpoints(config, plan);
        const runnerPlan: RunnerPlan = {
          ...(await prepareRun(plan, config, paths.dir, deps.logger)),
          driverLock: locks[i] as string,
        };
        await Promise.all([rm(paths.status, { force: true }), rm(paths.progress, { force: true })]);
        await writeFile(paths.plan, JSON.stringify(runnerPlan, null, 2));
        return { resumed, otherShapes };
      }),
    );
    const inherit = config.driverOutput === 'inherit';
    // The previous run's driver log is what explains a crash the supervisor just restarted: keep one.
    if (!inherit && existsSync(lead.paths.log)) await rename(lead.paths.log, `${lead.paths.log}.previous`);
    const log = inherit ? undefined : openSync(lead.paths.log, 'w');
    if (!inherit) {
      for (const { paths } of runs.slice(1)) {
        const stat = await lstat(paths.log).catch(() => undefined);
        if (stat?.isFile()) await rename(paths.log, `${paths.log}.previous`);
        else if (stat) await rm(paths.log, { force: true });
        await symlink(path.relative(paths.dir, lead.paths.log), paths.log);
      }
    }
    const child = spawn(
      rt.sparkSubmit,
      runnerArgs(rt, config.master, ['stream', ...runs.flatMap(({ paths }) => ['--plan', paths.plan])], {
        driverMemory: config.driverMemory,
        javaOptions: driverClassArchive(lead.paths.dir, rt),
      }),
      {
        // Its own process group: a supervisor's group signal must not kill the driver before it can commit; stopping
        // it is stop()'s job.
        detached: true,
        stdio: log === undefined ? ['ignore', 'inherit', 'inherit'] : ['ignore', log, log],
        env: {
          ...process.env,
          ...rt.env,
          ...(options.tieTo
            ? {
                EMOSTREAM_DRIVER_TIE_PID: String(options.tieTo),
                EMOSTREAM_DRIVER_TIE_START: processStartTime(options.tieTo) ?? '',
              }
            : {}),
        },
      },
    );
    if (log !== undefined) closeSync(log);
    const pid = child.pid;
    if (pid === undefined) throw new JobError(`spark-submit did not start (${rt.sparkSubmit})`);
    child.unref();
    const submittedAt = new Date().toISOString();
    const metas = await Promise.all(
      runs.map(async ({ plan, paths }, i) => {
        // From here the driver owns the checkpoint, for as long as it runs (job:submit exits right away).
        await transferDriverLock(locks[i] as string, ownerRecord(plan.name, pid, options.tieTo));
        const meta: RunMeta = {
          job: plan.name,
          file: plan.file,
          launcherPid: pid,
          checkpoint: plan.checkpoint,
          source: plan.source.topic,
          sink: plan.sink.topic,
          master: config.master,
          submittedAt,
          ...(runs.length > 1 ? { driverJobs: names } : {}),
        };
        await writeFile(paths.meta, JSON.stringify(meta, null, 2));
        return meta;
      }),
    );
    deps.logger?.info(
      { pid, jobs: names, resumed: prepared.map((p) => p.resumed), log: lead.paths.log },
      'submitted',
    );
    if (options.waitRunning ?? true) {
      try {
        for (const { paths } of runs) await waitForRunning(paths, pid, options.timeoutMs ?? 280_000);
      } catch (err) {
        killGroup(pid);
        for (const lock of locks) await releaseDriverLock(lock, pid);
        throw err;
      }
      deps.logger?.info({ jobs: names }, 'running');
    }
    const first = prepared[0] ?? { resumed: false, otherShapes: [] };
    return { meta: metas[0] as RunMeta, paths: lead.paths, ...first };
  }

  return driverHandle(runs, deps.logger, submit);
}
