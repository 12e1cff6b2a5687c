import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer } from 'testcontainers';
import { imageNames } from '../../../infra/images/image-names.ts';
import { runtimePaths } from '../../../infra/local/cache-dir.ts';
import { loadVersions } from '../../../infra/local/versions.ts';
import { loadPlan } from '../../../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../../../jobs/spark-sql/control/jobs-config.ts';
import { runPathsIn } from '../../../jobs/spark-sql/control/run-dir.ts';
import { prepareRun, runnerArgs } from '../../../jobs/spark-sql/control/spark-job.ts';
import { execExitCode, HostProbeWaitStrategy, SUITE_LABEL } from './host-network.ts';

/** The checkout, mounted read-only at the same path inside, so the job scripts' absolute paths hold there too. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Where the Spark image keeps the connector jars (see infra/images/spark/Dockerfile). */
const IMAGE_JARS_DIR = '/opt/emostream/spark-jars';

/** State inside the container: checkpoints and the runner's run directory (status.json, progress.jsonl). */
const STATE_DIR = '/tmp/emostream-spark';

/**
 * One Spark SQL job from jobs/spark-sql running in streaming mode, driver and executors in one container
 * (`local[2]`), on the host network. The image has no Node, so the launcher's two halves run apart: its
 * `prepareRun` here (topics, schemas, the runner's plan), its `runnerArgs` inside (spark-submit of the runner with
 * that plan), the same code `npm start` and job:submit go through. Ready when the runner reports the query running.
 */
export class SparkJobContainer extends GenericContainer {
  private brokers?: string;
  private registryUrl?: string;
  private master = 'local[2]';
  private topics: Record<string, string> = {};

  /**
   * @param job a job name in jobs/spark-sql (e.g. `emoji-swarm`)
   * @param image defaults to `EMOSTREAM_SPARK_IMAGE` or the local `emostream/spark:<pinned pyspark>`
   */
  constructor(
    private readonly job: string,
    image = imageNames().spark,
  ) {
    super(image);
    this.withNetworkMode('host')
      .withLabels({ [SUITE_LABEL]: `spark ${job}` })
      .withBindMounts([{ source: repoRoot, target: repoRoot, mode: 'ro' }])
      .withStartupTimeout(300_000);
  }

  /** `KAFKA_BROKERS` of the job. */
  withKafka(brokers: string): this {
    this.brokers = brokers;
    return this;
  }

  /** Confluent-compatible registry URL of the job. */
  withRegistry(url: string): this {
    this.registryUrl = url;
    return this;
  }

  /** Spark master. @default local[2] */
  withMaster(master: string): this {
    this.master = master;
    return this;
  }

  /** Logical topic → Kafka topic overrides (`reactions`, `aggregates`, …). */
  withTopics(topics: Record<string, string>): this {
    this.topics = { ...this.topics, ...topics };
    return this;
  }

  override async start(): Promise<StartedSparkJobContainer> {
    if (!this.brokers || !this.registryUrl)
      throw new Error('SparkJobContainer needs withKafka() and withRegistry()');
    const env: NodeJS.ProcessEnv = {
      KAFKA_BROKERS: this.brokers,
      SCHEMA_REGISTRY_URL: this.registryUrl,
      SPARK_MASTER: this.master,
      SPARK_JOBS_STATE: STATE_DIR,
      SPARK_UI_PORT: 'off',
      ...Object.fromEntries(Object.entries(this.topics).map(([k, v]) => [`${k.toUpperCase()}_TOPIC`, v])),
    };
    const config = loadJobsConfig(env);
    const plan = await loadPlan(this.job, config);
    const runDir = path.posix.join(STATE_DIR, 'runs', plan.name);
    const paths = runPathsIn(runDir);
    const runnerPlan = await prepareRun(plan, config, runDir);

    // The image holds the very jar files of the runtime's cache; name them at their place in the image.
    const jarNames = (await readdir(runtimePaths(loadVersions()).sparkJars))
      .filter((f) => f.endsWith('.jar'))
      .sort();
    const runtime = {
      sparkSubmit: 'spark-submit',
      python: 'python3',
      jars: jarNames.map((f) => path.posix.join(IMAGE_JARS_DIR, f)),
      env: {},
      version: loadVersions().spark.pyspark,
    };
    const command = [
      runtime.sparkSubmit,
      ...runnerArgs(runtime, config.master, ['stream', '--plan', paths.plan], {
        driverMemory: config.driverMemory,
      }),
    ];
    this.withCopyContentToContainer([{ content: JSON.stringify(runnerPlan), target: paths.plan }]);
    this.withEnvironment({ SPARK_LOCAL_IP: '127.0.0.1', SPARK_LOCAL_HOSTNAME: 'localhost' }).withCommand(
      command,
    );
    const status = paths.status;
    this.withWaitStrategy(
      new HostProbeWaitStrategy(
        `Spark job ${plan.name} to report its query running`,
        async (container) =>
          (await execExitCode(container, ['grep', '-Eq', '"state": ?"running"', status])) === 0,
        1_000,
      ).withStartupTimeout(this.startupTimeoutMs ?? 300_000),
    );
    return new StartedSparkJobContainer(await super.start(), plan.name, runDir);
  }
}

/** A running {@link SparkJobContainer}. */
export class StartedSparkJobContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    private readonly jobName: string,
    private readonly runDir: string,
  ) {
    super(started);
  }

  /** Name of the job. */
  getJobName(): string {
    return this.jobName;
  }

  /** The runner's status (`running`, `stopped`, `failed`), read inside the container. */
  async getStatus(): Promise<{ state: string; error?: string }> {
    const { output, exitCode } = await this.exec(['cat', path.posix.join(this.runDir, 'status.json')]);
    if (exitCode !== 0) throw new Error(`no status.json in ${this.runDir}: ${output}`);
    return JSON.parse(output) as { state: string; error?: string };
  }
}
