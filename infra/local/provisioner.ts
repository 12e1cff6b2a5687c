import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { $ as zx } from 'zx';
import { type RuntimePaths, runtimePaths } from './cache-dir.ts';
import { PrerequisiteError, ProvisionError, RuntimeError } from './errors.ts';
import { defaultLocalRepository, runMaven, writeThrowawayPom } from './maven.ts';
import { checkPrerequisites, findJdks, type Jdk, type Toolchain } from './prerequisites.ts';
import { createProgress, type Progress } from './progress.ts';
import { isAlive } from './supervisor.ts';
import { loadVersions, repoRoot, type Versions } from './versions.ts';

/** zx with the output captured, not echoed: a failure's ProcessOutput still carries its stderr. */
const $ = zx({ quiet: true });

/** Everything a caller needs after provisioning: the pins, where things are, and which tools to run them with. */
export interface Runtime {
  versions: Versions;
  paths: RuntimePaths;
  toolchain: Toolchain;
}

export interface ProvisionOptions {
  progress?: Progress;
  /** Skip the Spark virtualenv and connector jars (Kafka + registry only). @default false */
  skipSpark?: boolean;
  /** Override the cache directory (default {@link cacheDir}). */
  cache?: string;
}

const MARKER = '.provisioned.json';

/** A marker holds the inputs a component was provisioned from; written last, so its presence means "complete". */
function markerMatches(dir: string, inputs: object): boolean {
  try {
    return readFileSync(path.join(dir, MARKER), 'utf8') === JSON.stringify(inputs);
  } catch {
    return false;
  }
}

function writeMarker(dir: string, inputs: object): void {
  writeFileSync(path.join(dir, MARKER), JSON.stringify(inputs));
}

/** Replaces `target` with the freshly filled `staging` directory, so a half-done step never looks done. */
function promote(staging: string, target: string): void {
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
}

/**
 * A cross-process lock (a directory holding the owner's pid): two test runs or a test run and `npm run stack`
 * may provision at once on a fresh machine. A lock whose owner died is taken over.
 */
async function withLock<T>(dir: string, progress: Progress, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(dir, '.provision.lock');
  mkdirSync(dir, { recursive: true });
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(path.join(lock, 'pid'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      if (Number.isInteger(owner) && !isAlive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        progress.info(`waiting for another provisioning run (pid ${owner}) to finish…`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function provisionKafka(rt: Runtime, progress: Progress): Promise<void> {
  const { kafka } = rt.versions;
  const label = `Kafka ${kafka.version} broker jars`;
  const inputs = { artifact: kafka.maven, version: kafka.version, log4j: kafka.log4j };
  const home = rt.paths.kafkaHome;
  if (markerMatches(home, inputs)) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    const pomDir = path.join(home, 'pom');
    writeThrowawayPom(pomDir, 'kafka-runtime', [
      { coordinates: kafka.maven, version: kafka.version },
      // Kafka's pom declares slf4j-api only; the distribution adds a log4j2 binding, and so do we.
      { coordinates: 'org.apache.logging.log4j:log4j-slf4j-impl', version: kafka.log4j },
      { coordinates: 'org.apache.logging.log4j:log4j-core', version: kafka.log4j },
    ]);
    const staging = `${rt.paths.kafkaLibs}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    await runMaven({
      mvn: rt.toolchain.mvn,
      jdk: rt.toolchain.kafkaJdk,
      cwd: pomDir,
      args: ['dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`],
      logFile: path.join(home, 'mvn.log'),
      onStatus: update,
    });
    promote(staging, rt.paths.kafkaLibs);
    writeMarker(home, inputs);
  });
}

async function provisionRegistry(rt: Runtime, progress: Progress): Promise<void> {
  const reg = rt.versions.apicurioRegistry;
  const label = `Apicurio Registry ${reg.version}`;
  const inputs = { ...reg };
  const home = rt.paths.registryHome;
  if (markerMatches(home, inputs)) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    const pomDir = path.join(home, 'pom');
    writeThrowawayPom(pomDir, 'registry-download', []);
    const download = path.join(home, 'download');
    rmSync(download, { recursive: true, force: true });
    const [groupId, artifactId] = reg.maven.split(':') as [string, string];
    // dependency:copy fetches the archive alone: resolving the app's own dependency tree would need
    // repositories its pom names that are not Maven Central.
    await runMaven({
      mvn: rt.toolchain.mvn,
      jdk: rt.toolchain.kafkaJdk,
      cwd: pomDir,
      args: [
        'dependency:copy',
        `-Dartifact=${reg.maven}:${reg.version}:${reg.packaging}:${reg.classifier}`,
        `-DoutputDirectory=${download}`,
      ],
      logFile: path.join(home, 'mvn.log'),
      onStatus: update,
      watchDir: path.join(defaultLocalRepository(), ...groupId.split('.'), artifactId, reg.version),
    });
    const archive = readdirSync(download).find((f) => f.endsWith(`.${reg.packaging}`));
    if (!archive)
      throw new ProvisionError(`no .${reg.packaging} in ${download} after mvn`, path.join(home, 'mvn.log'));
    update(`extracting ${archive}`);
    const staging = path.join(home, 'app.tmp');
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    await $`tar -xzf ${path.join(download, archive)} -C ${staging}`;
    if (!existsSync(path.join(staging, 'quarkus-run.jar'))) {
      throw new ProvisionError(`${archive} holds no quarkus-run.jar; is it a registry app distribution?`);
    }
    promote(staging, path.join(home, 'app'));
    rmSync(download, { recursive: true, force: true });
    writeMarker(home, inputs);
  });
}

/** `pyspark/jars` inside the virtualenv's site-packages. */
export function pysparkJarsDir(venv: string): string {
  const lib = path.join(venv, 'lib');
  const py = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python')) : undefined;
  // Windows virtualenvs use Lib/site-packages; the runtime targets Linux and macOS.
  return path.join(lib, py ?? 'python3', 'site-packages', 'pyspark', 'jars');
}

/**
 * The artifact id of a Maven jar file name (`kafka-clients-3.9.0.jar` → `kafka-clients`). The version is the
 * first `-<digit>…` tail without underscores, which keeps `spark-sql-kafka-0-10_2.13` whole.
 */
export function artifactOfJar(file: string): string {
  const m = /^(.+?)-(\d[A-Za-z0-9.-]*)\.jar$/.exec(file);
  return m?.[1] ?? file.replace(/\.jar$/, '');
}

async function installedPyspark(venv: string): Promise<string | undefined> {
  const python = path.join(venv, 'bin', 'python');
  if (!existsSync(python)) return undefined;
  try {
    const { stdout } = await $`${python} -c ${'import pyspark; print(pyspark.__version__)'}`;
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** Runs a command, showing its newest output fragment as the status; its full output goes to `logFile`. */
async function runStreaming(
  cmd: string,
  args: string[],
  logFile: string,
  update: (s: string) => void,
): Promise<void> {
  const proc = $({ nothrow: true })`${cmd} ${args}`;
  const onData = (chunk: Buffer) => {
    // pip redraws its bar with \r; the newest fragment is the status.
    const last = chunk
      .toString()
      .split(/[\r\n]+/)
      .map((s) => s.trim())
      .filter(Boolean)
      .pop();
    if (last) update(last);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const output = await proc;
  writeFileSync(logFile, output.stdall);
  if (output.exitCode !== 0) {
    throw new ProvisionError(
      `${path.basename(cmd)} ${args.join(' ')} exited with ${output.exitCode}`,
      logFile,
      {
        cause: output,
      },
    );
  }
}

async function provisionSparkVenv(rt: Runtime, progress: Progress): Promise<void> {
  const version = rt.versions.spark.pyspark;
  const label = `pyspark ${version} virtualenv`;
  const venv = rt.paths.sparkVenv;
  if ((await installedPyspark(venv)) === version) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    mkdirSync(rt.paths.sparkHome, { recursive: true });
    if (!existsSync(path.join(venv, 'bin', 'python'))) {
      update('creating virtualenv');
      await $`${rt.toolchain.python} -m venv ${venv}`;
    }
    await runStreaming(
      path.join(venv, 'bin', 'python'),
      ['-m', 'pip', 'install', '--progress-bar', 'on', `pyspark==${version}`],
      path.join(rt.paths.sparkHome, 'pip.log'),
      update,
    );
    const installed = await installedPyspark(venv);
    if (installed !== version) {
      throw new ProvisionError(
        `pyspark ${version} did not import from ${venv} (found ${installed ?? 'none'})`,
      );
    }
  });
}

async function provisionSparkJars(rt: Runtime, progress: Progress): Promise<void> {
  const { spark } = rt.versions;
  const label = `Spark ${spark.pyspark} connector jars`;
  const inputs = { packages: spark.packages, version: spark.pyspark };
  const home = rt.paths.sparkHome;
  if (markerMatches(home, inputs) && existsSync(rt.paths.sparkJars)) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    const pomDir = path.join(home, 'pom');
    writeThrowawayPom(
      pomDir,
      'spark-connectors',
      spark.packages.map((coordinates) => ({ coordinates, version: spark.pyspark })),
    );
    const staging = `${rt.paths.sparkJars}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    await runMaven({
      mvn: rt.toolchain.mvn,
      jdk: rt.toolchain.sparkJdk,
      cwd: pomDir,
      args: ['dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${staging}`],
      logFile: path.join(home, 'mvn.log'),
      onStatus: update,
    });
    // pyspark ships Spark's own classpath; a second copy of e.g. hadoop-client or scala-library at another
    // version would shadow it, so keep only what pyspark lacks (kafka-clients, commons-pool2, token provider…).
    const bundled = new Set(readdirSync(pysparkJarsDir(rt.paths.sparkVenv)).map(artifactOfJar));
    for (const jar of readdirSync(staging)) {
      if (bundled.has(artifactOfJar(jar))) rmSync(path.join(staging, jar));
    }
    promote(staging, rt.paths.sparkJars);
    writeMarker(home, inputs);
  });
}

/**
 * Checks prerequisites and provisions whatever is missing into the cache: Kafka broker jars, the registry app,
 * and (unless skipped) the pyspark virtualenv plus connector jars. Idempotent; a warm run only reads markers.
 */
export async function provision(options: ProvisionOptions = {}): Promise<Runtime> {
  const progress = options.progress ?? createProgress();
  const versions = loadVersions();
  const paths = runtimePaths(versions, options.cache);
  const toolchain = await checkPrerequisites(versions);
  const rt: Runtime = { versions, paths, toolchain };
  await withLock(paths.cache, progress, async () => {
    await provisionKafka(rt, progress);
    await provisionRegistry(rt, progress);
    if (!options.skipSpark) {
      await provisionSparkVenv(rt, progress);
      await provisionSparkJars(rt, progress);
    }
  });
  return rt;
}

/** For callers that only need paths and tools of an already provisioned cache (no downloads, no lock). */
export async function resolveRuntime(cache?: string): Promise<Runtime> {
  const versions = loadVersions();
  const paths = runtimePaths(versions, cache);
  if (!existsSync(path.join(paths.kafkaHome, MARKER))) {
    throw new RuntimeError(`nothing provisioned in ${paths.cache}: run \`npm run provision\` first`);
  }
  return { versions, paths, toolchain: await checkPrerequisites(versions) };
}

async function installedPyflink(venv: string): Promise<string | undefined> {
  const python = path.join(venv, 'bin', 'python');
  if (!existsSync(python)) return undefined;
  try {
    const { stdout } = await $`${python} -c ${'from pyflink.version import __version__; print(__version__)'}`;
    return stdout.trim();
  } catch {
    return undefined;
  }
}

/** The JDK Flink runs on: the first found between the project's minimum and Flink's highest supported release. */
export async function flinkJdk(versions: Versions = loadVersions()): Promise<Jdk> {
  const jdks = await findJdks();
  const jdk = jdks.find((j) => j.feature >= versions.requires.java && j.feature <= versions.flink.javaMax);
  if (!jdk) {
    throw new PrerequisiteError([
      `a JDK ${versions.requires.java}..${versions.flink.javaMax} for Flink ${versions.flink.pyflink} ` +
        `(found: ${jdks.map((j) => `${j.feature} at ${j.home}`).join(', ') || 'none'}): ` +
        '`apt-get install openjdk-17-jdk-headless` or `brew install openjdk@17`',
    ]);
  }
  return jdk;
}

async function provisionFlinkVenv(rt: Runtime, progress: Progress): Promise<void> {
  const version = rt.versions.flink.pyflink;
  const label = `PyFlink ${version} virtualenv`;
  const venv = rt.paths.flinkVenv;
  if ((await installedPyflink(venv)) === version) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    mkdirSync(rt.paths.flinkHome, { recursive: true });
    if (!existsSync(path.join(venv, 'bin', 'python'))) {
      update('creating virtualenv');
      await $`${rt.toolchain.python} -m venv ${venv}`;
    }
    // apache-flink pulls apache-flink-libraries (Flink's jars, ~300 MB) of the same version.
    await runStreaming(
      path.join(venv, 'bin', 'python'),
      ['-m', 'pip', 'install', '--progress-bar', 'on', `apache-flink==${version}`],
      path.join(rt.paths.flinkHome, 'pip.log'),
      update,
    );
    const installed = await installedPyflink(venv);
    if (installed !== version) {
      throw new ProvisionError(
        `PyFlink ${version} did not import from ${venv} (found ${installed ?? 'none'})`,
      );
    }
  });
}

async function provisionFlinkJars(rt: Runtime, progress: Progress, jdk: Jdk): Promise<void> {
  const { flink } = rt.versions;
  const label = `Flink ${flink.pyflink} connector jars`;
  const inputs = { jars: flink.jars };
  const home = rt.paths.flinkHome;
  if (markerMatches(home, inputs) && existsSync(rt.paths.flinkJars)) return progress.skip(label, 'cached');
  await progress.step(label, async (update) => {
    const pomDir = path.join(home, 'pom');
    writeThrowawayPom(pomDir, 'flink-connectors', []);
    const staging = `${rt.paths.flinkJars}.tmp`;
    rmSync(staging, { recursive: true, force: true });
    // The SQL connector jars are uber jars: dependency:copy fetches each alone, no transitive resolution.
    for (const [i, artifact] of flink.jars.entries()) {
      const [groupId, artifactId, version] = artifact.split(':') as [string, string, string];
      await runMaven({
        mvn: rt.toolchain.mvn,
        jdk,
        cwd: pomDir,
        args: ['dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${staging}`],
        logFile: path.join(home, 'mvn.log'),
        onStatus: (s) => update(`${i + 1}/${flink.jars.length} ${artifactId}: ${s}`),
        watchDir: path.join(defaultLocalRepository(), ...groupId.split('.'), artifactId, version),
      });
    }
    promote(staging, rt.paths.flinkJars);
    writeMarker(home, inputs);
  });
}

/**
 * The class-data sharing archive of the Flink runner's JVM for `jdk` (the JDK's build and PyFlink's version in its
 * name: an archive only maps into the JVM build and class path that wrote it).
 */
export function flinkClassArchive(rt: Pick<Runtime, 'paths' | 'versions'>, jdk: Jdk): string {
  let release = '';
  try {
    release = readFileSync(path.join(jdk.home, 'release'), 'utf8');
  } catch {
    // no release file: the home alone names the build
  }
  const id = createHash('sha256')
    .update(`${jdk.home}\n${release}\n${rt.versions.flink.pyflink}`)
    .digest('hex')
    .slice(0, 12);
  return path.join(rt.paths.flinkHome, `classes-jdk${jdk.feature}-${id}.jsa`);
}

/**
 * Writes {@link flinkClassArchive} once: `flink_runner.py warm` (a small streaming job on the mini-cluster) in a JVM
 * started with `-XX:ArchiveClassesAtExit`. Every later runner JVM maps the classes from it (`JVM_ARGS`, see
 * flink-runtime.ts) instead of loading and verifying them from the jars: a job's start, and so its restart after a
 * crash, is shorter by about a third of its JVM time. Optional: a failure is reported and the runner starts without.
 */
async function provisionFlinkClassArchive(rt: Runtime, progress: Progress, jdk: Jdk): Promise<void> {
  const archive = flinkClassArchive(rt, jdk);
  const label = 'Flink class-data archive (faster job starts)';
  if (existsSync(archive)) return progress.skip(label, 'cached');
  const staging = `${archive}.tmp`;
  const log = path.join(rt.paths.flinkHome, 'class-archive.log');
  try {
    await progress.step(label, async (update) => {
      update('one start of a small Flink job, about 15 s');
      rmSync(staging, { force: true });
      await zx({
        env: {
          ...process.env,
          JAVA_HOME: jdk.home,
          PATH: [path.join(jdk.home, 'bin'), process.env.PATH ?? ''].join(path.delimiter),
          JVM_ARGS: `-XX:ArchiveClassesAtExit=${staging}`,
          FLINK_LOG_DIR: rt.paths.flinkHome,
        },
        quiet: true,
        timeout: '180s',
      })`${path.join(rt.paths.flinkVenv, 'bin', 'python')} ${path.join(repoRoot, 'jobs', 'spark-sql', 'flink_runner.py')} warm 2>${log}`;
      if (!existsSync(staging)) throw new ProvisionError(`the JVM wrote no archive (see ${log})`);
      renameSync(staging, archive);
    });
  } catch (err) {
    rmSync(staging, { force: true });
    progress.info(`Flink jobs start without a class-data archive: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * Provisions the Flink engine (PyFlink's virtualenv and the connector jars) into the cache, on the first use of a
 * Flink job; a no-op that only reads markers once done. Kept out of {@link provision} so that stacks and tests
 * without a Flink job never pay for it (`npm run provision -- --flink` fetches it ahead).
 */
export async function provisionFlink(options: ProvisionOptions = {}): Promise<Runtime> {
  const progress = options.progress ?? createProgress();
  const versions = loadVersions();
  const paths = runtimePaths(versions, options.cache);
  const toolchain = await checkPrerequisites(versions);
  const rt: Runtime = { versions, paths, toolchain };
  const jdk = await flinkJdk(versions);
  await withLock(paths.cache, progress, async () => {
    await provisionFlinkVenv(rt, progress);
    await provisionFlinkJars(rt, progress, jdk);
    await provisionFlinkClassArchive(rt, progress, jdk);
  });
  return rt;
}
