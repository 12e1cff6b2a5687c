import { readdirSync } from 'node:fs';
import path from 'node:path';
import { type Runtime, resolveRuntime } from './provisioner.ts';

/** What it takes to run Spark from the provisioned cache. */
export interface SparkRuntime {
  /** The virtualenv's `bin/spark-submit`. */
  sparkSubmit: string;
  /** The virtualenv's python, for PySpark drivers and workers. */
  python: string;
  /** Connector jars (Kafka source/sink, Avro, their deps pyspark lacks), absolute paths. */
  jars: string[];
  /** Environment for spark-submit: JAVA_HOME of a Spark-supported JDK, PYSPARK_PYTHON, loopback binding. */
  env: Record<string, string>;
  /** Pinned Spark version. */
  version: string;
}

/** Reads the Spark part of a provisioned runtime (see `npm run provision`); no downloads. */
export async function sparkRuntime(runtime?: Runtime): Promise<SparkRuntime> {
  const rt = runtime ?? (await resolveRuntime());
  const bin = path.join(rt.paths.sparkVenv, 'bin');
  const python = path.join(bin, 'python');
  const jars = readdirSync(rt.paths.sparkJars)
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => path.join(rt.paths.sparkJars, f));
  const javaHome = rt.toolchain.sparkJdk.home;
  return {
    sparkSubmit: path.join(bin, 'spark-submit'),
    python,
    jars,
    version: rt.versions.spark.pyspark,
    env: {
      JAVA_HOME: javaHome,
      PATH: [path.join(javaHome, 'bin'), bin, process.env.PATH ?? ''].join(path.delimiter),
      PYSPARK_PYTHON: python,
      PYSPARK_DRIVER_PYTHON: python,
      // Bind the driver, block manager and UI to loopback; Spark otherwise picks the first non-loopback address.
      SPARK_LOCAL_IP: '127.0.0.1',
      SPARK_LOCAL_HOSTNAME: 'localhost',
    },
  };
}

export interface SparkSubmitOptions {
  /** The application: a .py file (or a jar). */
  app: string;
  /** Arguments after the application. */
  appArgs?: string[];
  /** @default 'local[2]' */
  master?: string;
  name?: string;
  /** `--conf` entries; merged over the defaults (UI off, driver on loopback). */
  conf?: Record<string, string>;
  /** Jars added after the connector jars. */
  extraJars?: string[];
  /** Extra `--py-files`. */
  pyFiles?: string[];
  runtime?: Runtime;
}

/** A ready-to-spawn spark-submit invocation: `spawn(cmd.command, cmd.args, { env: { ...process.env, ...cmd.env } })`. */
export interface SparkSubmitCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  jars: string[];
}

/** Default `--conf`s: a local, test-friendly driver. */
export const DEFAULT_SPARK_CONF: Record<string, string> = {
  'spark.ui.enabled': 'false',
  'spark.driver.host': '127.0.0.1',
  'spark.driver.bindAddress': '127.0.0.1',
};

/** Builds the spark-submit command line for `options.app` with the connector jars on the classpath. */
export async function sparkSubmitCommand(options: SparkSubmitOptions): Promise<SparkSubmitCommand> {
  const spark = await sparkRuntime(options.runtime);
  const jars = [...spark.jars, ...(options.extraJars ?? [])];
  const conf = { ...DEFAULT_SPARK_CONF, ...options.conf };
  const args = ['--master', options.master ?? 'local[2]'];
  if (options.name) args.push('--name', options.name);
  if (jars.length) args.push('--jars', jars.join(','));
  if (options.pyFiles?.length) args.push('--py-files', options.pyFiles.join(','));
  for (const [key, value] of Object.entries(conf)) args.push('--conf', `${key}=${value}`);
  args.push(options.app, ...(options.appArgs ?? []));
  return { command: spark.sparkSubmit, args, env: spark.env, jars };
}
