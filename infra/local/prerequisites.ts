import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { which, $ as zx } from 'zx';
import { PrerequisiteError } from './errors.ts';
import type { Versions } from './versions.ts';

/** zx with the output captured, not echoed. */
const $ = zx({ quiet: true });

/** One installed JDK. */
export interface Jdk {
  home: string;
  /** Feature release, e.g. 17 or 21. */
  feature: number;
  java: string;
}

/** The tools the runtime found, one JDK chosen per service. */
export interface Toolchain {
  /** JDK for the Kafka broker and its storage tool (17+). */
  kafkaJdk: Jdk;
  /** JDK for the schema registry (its own minimum, 21 for Apicurio 3.3). */
  registryJdk: Jdk;
  /** JDK for Spark (17 up to the Spark's highest supported release). */
  sparkJdk: Jdk;
  mvn: string;
  /** A system Python 3.10+ used to create the Spark virtualenv. */
  python: string;
}

function parseFeature(version: string): number | undefined {
  // "1.8.0_392" → 8, "17.0.15" → 17, "21" → 21
  const m = /^(?:1\.)?(\d+)/.exec(version);
  return m?.[1] ? Number(m[1]) : undefined;
}

async function inspectJdk(home: string): Promise<Jdk | undefined> {
  const java = path.join(home, 'bin', 'java');
  if (!existsSync(java)) return undefined;
  // `release` is cheap to read and present in every JDK since 9; fall back to asking the binary.
  const releaseFile = path.join(home, 'release');
  if (existsSync(releaseFile)) {
    const m = /^JAVA_VERSION="([^"]+)"/m.exec(readFileSync(releaseFile, 'utf8'));
    const feature = m?.[1] ? parseFeature(m[1]) : undefined;
    if (feature) return { home, feature, java };
  }
  try {
    const { stderr } = await $`${java} -version`;
    const m = /version "([^"]+)"/.exec(stderr);
    const feature = m?.[1] ? parseFeature(m[1]) : undefined;
    return feature ? { home, feature, java } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every JDK we can see, in order of preference: `$JAVA_HOME`, the `java` on PATH, then the usual install
 * roots (Debian/Ubuntu alternatives, macOS). The order matters: the first one that fits a service wins.
 */
export async function findJdks(): Promise<Jdk[]> {
  const homes: string[] = [];
  if (process.env.JAVA_HOME) homes.push(process.env.JAVA_HOME);
  const onPath = await which('java', { nothrow: true });
  if (onPath) homes.push(path.dirname(path.dirname(realpathSync(onPath))));
  for (const root of ['/usr/lib/jvm', '/Library/Java/JavaVirtualMachines']) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root).sort()) {
      const home = path.join(root, entry);
      homes.push(
        existsSync(path.join(home, 'Contents', 'Home')) ? path.join(home, 'Contents', 'Home') : home,
      );
    }
  }
  const seen = new Set<string>();
  const jdks: Jdk[] = [];
  for (const home of homes) {
    let real: string;
    try {
      real = realpathSync(home);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    const jdk = await inspectJdk(real);
    if (jdk) jdks.push(jdk);
  }
  return jdks;
}

async function pythonVersion(python: string): Promise<[number, number] | undefined> {
  try {
    const { stdout } = await $`${python} -c ${'import sys; print("%d.%d" % sys.version_info[:2])'}`;
    const [major, minor] = stdout.trim().split('.').map(Number);
    return major !== undefined && minor !== undefined ? [major, minor] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks JDKs, Maven and Python in one go and throws ONE {@link PrerequisiteError} naming everything
 * that is missing and how to install it.
 */
export async function checkPrerequisites(versions: Versions): Promise<Toolchain> {
  const missing: string[] = [];
  const jdks = await findJdks();
  const minJava = versions.requires.java;
  const pick = (min: number, max = Number.POSITIVE_INFINITY) =>
    jdks.find((j) => j.feature >= min && j.feature <= max);

  const kafkaJdk = pick(minJava);
  const sparkJdk = pick(minJava, versions.spark.javaMax);
  const registryJdk = pick(Math.max(minJava, versions.apicurioRegistry.java));
  const found = jdks.length ? ` (found: ${jdks.map((j) => `${j.feature} at ${j.home}`).join(', ')})` : '';
  if (!kafkaJdk || !sparkJdk) {
    missing.push(
      `a JDK ${minJava}..${versions.spark.javaMax} for Kafka and Spark${found}: ` +
        'install it (Debian/Ubuntu: `apt-get install openjdk-17-jdk-headless`; macOS: `brew install openjdk@17`) ' +
        'and put its bin/ on PATH or set JAVA_HOME',
    );
  }
  if (!registryJdk) {
    missing.push(
      `a JDK ${versions.apicurioRegistry.java}+ for Apicurio Registry ${versions.apicurioRegistry.version}${found}: ` +
        'install one (e.g. Eclipse Temurin 21 from adoptium.net, `apt-get install openjdk-21-jdk-headless`, ' +
        '`brew install openjdk@21`); it is found under the usual JDK directories, on PATH or via JAVA_HOME',
    );
  }

  const mvn = (await which('mvn', { nothrow: true })) ?? undefined;
  if (!mvn) {
    missing.push('Apache Maven 3.6+ (`mvn`): `apt-get install maven` or `brew install maven`');
  }

  const [wantMajor, wantMinor] = versions.requires.python.split('.').map(Number) as [number, number];
  let python: string | undefined;
  for (const candidate of ['python3', 'python']) {
    const exe = await which(candidate, { nothrow: true });
    if (!exe) continue;
    const v = await pythonVersion(exe);
    if (v && (v[0] > wantMajor || (v[0] === wantMajor && v[1] >= wantMinor))) {
      python = exe;
      break;
    }
  }
  if (!python) {
    missing.push(
      `Python ${versions.requires.python}+ with venv (\`python3\`): ` +
        '`apt-get install python3 python3-venv` or `brew install python@3.12`',
    );
  }

  if (missing.length || !kafkaJdk || !sparkJdk || !registryJdk || !mvn || !python) {
    throw new PrerequisiteError(missing);
  }
  return { kafkaJdk, registryJdk, sparkJdk, mvn, python };
}
