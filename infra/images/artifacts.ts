import path from 'node:path';
import { provision, pysparkJarsDir } from '../local/provisioner.ts';

/**
 * Where the local runtime keeps the artifacts the images are made of. The images copy these very files, so the
 * container suite runs the same Kafka, registry and Spark bits as `npm start` and `npm test`.
 */
export interface ImageArtifacts {
  /** Directory of the broker's jars (the classpath, with the log4j2 binding). */
  kafkaLibs: string;
  /** Unpacked Apicurio Registry `tar.gz:all` (holds `quarkus-run.jar`). */
  registryApp: string;
  /** JDK the runtime runs the registry with (the registry needs a newer Java than the base image's JRE). */
  registryJdkHome: string;
  /** `site-packages/pyspark` of the runtime's virtualenv: SPARK_HOME of a pip-installed Spark. */
  pysparkDir: string;
  /** `site-packages/py4j`, pyspark's only required dependency. */
  py4jDir: string;
  /** Kafka and Avro connector jars with their transitive dependencies (minus what pyspark bundles). */
  sparkJars: string;
}

/**
 * Provisions through the local runtime (a no-op reading markers when the cache is warm, downloads with progress
 * otherwise) and returns where each artifact is. One way to get the artifacts, shared with `npm start`.
 */
export async function provisionImageArtifacts(
  options: { skipSpark?: boolean } = {},
): Promise<ImageArtifacts> {
  const rt = await provision({ skipSpark: options.skipSpark ?? false });
  const sitePackages = path.dirname(path.dirname(pysparkJarsDir(rt.paths.sparkVenv)));
  return {
    kafkaLibs: rt.paths.kafkaLibs,
    registryApp: path.join(rt.paths.registryHome, 'app'),
    registryJdkHome: rt.toolchain.registryJdk.home,
    pysparkDir: path.join(sitePackages, 'pyspark'),
    py4jDir: path.join(sitePackages, 'py4j'),
    sparkJars: rt.paths.sparkJars,
  };
}
