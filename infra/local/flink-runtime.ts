import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Progress } from './progress.ts';
import { flinkClassArchive, flinkJdk, provisionFlink } from './provisioner.ts';

/** What it takes to run a job on Flink from the provisioned cache. */
export interface FlinkRuntime {
  /** The Flink virtualenv's python, which runs `flink_runner.py` (PyFlink starts its JVM from there). */
  python: string;
  /** The SQL connector jars (Kafka, avro-confluent), absolute paths. */
  jars: string[];
  /** Environment of the runner: JAVA_HOME of a Flink-supported JDK, the jars. */
  env: Record<string, string>;
  /** Pinned PyFlink version. */
  version: string;
}

/**
 * The Flink engine's runtime, provisioned first if missing (PyFlink's virtualenv and the jars, with progress): the
 * first Flink job pays for the download, nothing else does.
 */
export async function flinkRuntime(
  options: { progress?: Progress; cache?: string } = {},
): Promise<FlinkRuntime> {
  const rt = await provisionFlink(options);
  const { flinkVenv, flinkJars } = rt.paths;
  const python = path.join(flinkVenv, 'bin', 'python');
  const jars = (existsSync(flinkJars) ? readdirSync(flinkJars) : [])
    .filter((f) => f.endsWith('.jar'))
    .sort()
    .map((f) => path.join(flinkJars, f));
  const jdk = await flinkJdk(rt.versions);
  const javaHome = jdk.home;
  const archive = flinkClassArchive(rt, jdk);
  return {
    python,
    jars,
    version: rt.versions.flink.pyflink,
    env: {
      JAVA_HOME: javaHome,
      PATH: [path.join(javaHome, 'bin'), path.dirname(python), process.env.PATH ?? ''].join(path.delimiter),
      EMOSTREAM_FLINK_JARS: jars.join(','),
      // The runner's JVM maps the classes a start loads from the archive provisioning wrote (PyFlink's gateway
      // launcher puts JVM_ARGS first on the java command line).
      ...(existsSync(archive) ? { JVM_ARGS: `-XX:SharedArchiveFile=${archive}` } : {}),
    },
  };
}
