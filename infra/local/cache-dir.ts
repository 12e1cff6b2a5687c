import { homedir } from 'node:os';
import path from 'node:path';
import type { Versions } from './versions.ts';

/**
 * Where provisioned artifacts live: `$EMOSTREAM_CACHE`, else `${XDG_CACHE_HOME:-~/.cache}/emostream`.
 * Outside the repository so a fresh clone, `git clean` or a second work tree reuse the same downloads.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EMOSTREAM_CACHE) return path.resolve(env.EMOSTREAM_CACHE);
  const xdg = env.XDG_CACHE_HOME || path.join(homedir(), '.cache');
  return path.join(xdg, 'emostream');
}

/** The directories of each provisioned component, all derived from the pinned versions. */
export interface RuntimePaths {
  cache: string;
  kafkaHome: string;
  kafkaLibs: string;
  registryHome: string;
  sparkHome: string;
  sparkVenv: string;
  sparkJars: string;
  /** The Flink engine's home: its virtualenv (PyFlink) and connector jars, provisioned on first use. */
  flinkHome: string;
  flinkVenv: string;
  flinkJars: string;
}

export function runtimePaths(versions: Versions, cache = cacheDir()): RuntimePaths {
  const kafkaHome = path.join(cache, `kafka-${versions.kafka.version}`);
  const sparkHome = path.join(cache, `spark-${versions.spark.pyspark}`);
  const flinkHome = path.join(cache, `flink-${versions.flink.pyflink}`);
  return {
    cache,
    kafkaHome,
    kafkaLibs: path.join(kafkaHome, 'libs'),
    registryHome: path.join(cache, `apicurio-registry-${versions.apicurioRegistry.version}`),
    sparkHome,
    sparkVenv: path.join(sparkHome, 'venv'),
    sparkJars: path.join(sparkHome, 'jars'),
    flinkHome,
    flinkVenv: path.join(flinkHome, 'venv'),
    flinkJars: path.join(flinkHome, 'jars'),
  };
}
