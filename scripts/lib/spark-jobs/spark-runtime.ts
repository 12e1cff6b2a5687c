import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { cacheDir } from '../runtime/cache-dir.ts';
import { JobError } from './errors.ts';

/** What spark-submit needs to run a job: the launcher, the connector jars, and the environment. */
export interface SparkRuntime {
  sparkSubmit: string;
  /** Python of the virtualenv pyspark lives in (drivers and workers run the runner with it). */
  python: string;
  /** Absolute paths of spark-sql-kafka, spark-avro and their runtime dependencies not shipped with pyspark. */
  jars: string[];
  env: Record<string, string>;
}

const repoVersions = new URL('../../../versions.json', import.meta.url);

interface SparkPins {
  pyspark: string;
  scala: string;
  packages: string[];
}

function sparkPins(): SparkPins {
  return (JSON.parse(readFileSync(repoVersions, 'utf8')) as { spark: SparkPins }).spark;
}

function m2Jar(coordinates: string, version: string): string {
  const [group = '', artifact = ''] = coordinates.split(':');
  return path.join(
    homedir(),
    '.m2',
    'repository',
    ...group.split('.'),
    artifact,
    version,
    `${artifact}-${version}.jar`,
  );
}

/** Compile-scope dependencies a connector's pom declares with a literal version (kafka-clients, commons-pool2 …). */
function pomDependencies(coordinates: string, version: string): string[] {
  const pom = m2Jar(coordinates, version).replace(/\.jar$/, '.pom');
  if (!existsSync(pom)) return [];
  const text = readFileSync(pom, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/<dependency>([\s\S]*?)<\/dependency>/g)) {
    const body = m[1] ?? '';
    const get = (tag: string) => new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(body)?.[1];
    const g = get('groupId');
    const a = get('artifactId');
    const v = get('version');
    const scope = get('scope') ?? 'compile';
    if (!g || !a || !v || scope !== 'compile' || get('type')) continue;
    // Spark's own modules ship with pyspark, except the Kafka token provider that the connector needs.
    if (g === 'org.apache.spark' && !a.startsWith('spark-token-provider')) continue;
    if (v.includes('${') || g.startsWith('org.scala-lang')) continue;
    out.push(m2Jar(`${g}:${a}`, v));
  }
  return out;
}

/**
 * Locates pyspark and the connector jars provisioned by the runtime (`npm run provision`): the virtualenv under
 * `<cache>/spark-<pyspark>/venv` and the jars in `<cache>/spark-<pyspark>/jars`, falling back to the local Maven
 * repository when that folder is not populated yet.
 */
export function resolveSparkRuntime(env: NodeJS.ProcessEnv = process.env): SparkRuntime {
  const pins = sparkPins();
  const home = path.join(cacheDir(env), `spark-${pins.pyspark}`);
  const venvBin = path.join(home, 'venv', 'bin');
  const sparkSubmit = path.join(venvBin, 'spark-submit');
  const python = path.join(venvBin, 'python');
  if (!existsSync(sparkSubmit)) {
    throw new JobError(
      `pyspark ${pins.pyspark} is not provisioned (${sparkSubmit} missing): run npm run provision`,
    );
  }
  const jarDir = path.join(home, 'jars');
  let jars = existsSync(jarDir)
    ? readdirSync(jarDir)
        .filter((f) => f.endsWith('.jar'))
        .map((f) => path.join(jarDir, f))
    : [];
  if (jars.length === 0) {
    jars = [
      ...new Set(pins.packages.flatMap((c) => [m2Jar(c, pins.pyspark), ...pomDependencies(c, pins.pyspark)])),
    ];
    const missing = jars.filter((j) => !existsSync(j));
    if (missing.length > 0) {
      throw new JobError(
        `Spark connector jars are not provisioned (${missing.join(', ')}): run npm run provision`,
      );
    }
  }
  return {
    sparkSubmit,
    python,
    jars,
    env: {
      PYSPARK_PYTHON: python,
      PYSPARK_DRIVER_PYTHON: python,
      // Drivers bind to loopback unless an operator says otherwise (a remote master needs a reachable address).
      SPARK_LOCAL_IP: env.SPARK_LOCAL_IP ?? '127.0.0.1',
    },
  };
}
