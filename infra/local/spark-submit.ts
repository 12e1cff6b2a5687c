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
  return sparkRuntimeOf(runtime ?? (await resolveRuntime()));
}

/** {@link sparkRuntime} of a runtime at hand. */
export function sparkRuntimeOf(rt: Runtime): SparkRuntime {
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
