/**
 * The pipeline's Node.js services run as JavaScript bundles (esbuild, npm packages left external) instead of through
 * tsx: tsx's loader, its transpiler and its esbuild process cost each service about 35 MB of resident memory (the web
 * server idle: 108 MB through tsx, 75 MB as its bundle) and transpiling at every start.
 *
 * Built on demand, by whoever is about to start a service (`serviceEntry`, used by pipeline-services.ts), into the
 * git-ignored `dist/services/`, and again only when an input changed since the build: so `npm start`, the tests and
 * the scripts of a fresh clone (`npm ci && npm test`) get a build without a lifecycle script, and an edited source
 * never runs stale. The check stats the previous build's inputs (about 1 ms); a build takes about 0.1 s.
 *
 * A bundle keeps each module's own location: every `import.meta.url` is replaced by the URL of the source file it
 * was written in, so files found relative to a module (schemas, openapi.yaml, the jobs' SQL, the web pages) are found
 * where they are in the repository. Those URLs are this checkout's paths, which is why the build stays local and
 * the stamp records the root it was built for.
 */

import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build as esbuild, version as esbuildVersion, type Plugin, stop as stopEsbuild } from 'esbuild';
import { repoRoot } from './versions.ts';

/** Entry points of the supervised Node.js services (and ingest's producer thread), relative to the repo root. */
export const SERVICE_ENTRIES = [
  'ingest/main.ts',
  'ingest/kafka-sink-worker.ts',
  'fanout/main.ts',
  'web/main.ts',
  'jobs/spark-sql/control/main.ts',
] as const;

/** Where the bundles go: `dist/services/<entry>.js`. */
export const SERVICES_DIST = path.join(repoRoot, 'dist', 'services');
const STAMP = 'build.json';

/** What a build records to decide whether the next start needs another. */
interface BuildStamp {
  root: string;
  esbuild: string;
  entries: readonly string[];
  /** Every file the bundles were made of (relative to the root), with its mtime at build time. */
  inputs: Record<string, number>;
}

/** The bundle of `entry` (`ingest/main.ts` → `dist/services/ingest/main.js`). */
export function bundlePath(entry: string): string {
  return path.join(SERVICES_DIST, entry.replace(/\.ts$/, '.js'));
}

/** Why the bundles must be built again, or undefined when they are current. */
export function staleReason(dist: string = SERVICES_DIST): string | undefined {
  let stamp: BuildStamp;
  try {
    stamp = JSON.parse(readFileSync(path.join(dist, STAMP), 'utf8')) as BuildStamp;
  } catch {
    return 'no build yet';
  }
  if (stamp.root !== repoRoot) return 'built for another checkout';
  if (stamp.esbuild !== esbuildVersion) return 'another esbuild';
  if (SERVICE_ENTRIES.some((e) => !stamp.entries.includes(e))) return 'entries changed';
  for (const [file, mtime] of Object.entries(stamp.inputs)) {
    let now: number;
    try {
      now = statSync(path.join(repoRoot, file)).mtimeMs;
    } catch {
      return `${file} is gone`;
    }
    if (now !== mtime) return `${file} changed`;
  }
  return undefined;
}

/** Replaces `import.meta.url` in every repository source with that source's own URL (see the module comment). */
const ownUrlPlugin: Plugin = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = readFileSync(args.path, 'utf8');
      const url = JSON.stringify(pathToFileURL(args.path).href);
      return {
        contents: source.replaceAll('import.meta.url', url),
        loader: args.path.endsWith('.ts') ? 'ts' : 'js',
      };
    });
  },
};

/**
 * Writes `content` to `file` through a temporary file and a rename, so a process starting meanwhile reads either
 * the old file or the new one, whole (another test run's services may be starting from these bundles).
 */
function replaceFile(file: string, content: Uint8Array | string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/** Builds every bundle and replaces the old files one by one, each atomically; the stamp comes last. */
async function build(): Promise<void> {
  const result = await esbuild({
    absWorkingDir: repoRoot,
    entryPoints: SERVICE_ENTRIES.map((e) => ({ in: e, out: e.replace(/\.ts$/, '') })),
    outdir: SERVICES_DIST,
    write: false,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    define: {
      // ingest's producer thread loads the bundle of its worker instead of registering tsx (threaded-kafka-sink.ts).
      EMOSTREAM_KAFKA_WORKER_BUNDLE: JSON.stringify(
        pathToFileURL(bundlePath('ingest/kafka-sink-worker.ts')).href,
      ),
    },
    plugins: [ownUrlPlugin],
  }).finally(() =>
    // esbuild keeps its service process for further calls; the supervisor makes none for the stack's whole life, so
    // it would stay resident beside it (tens of MB). The next call, if any, starts a new one.
    stopEsbuild(),
  );
  for (const file of result.outputFiles ?? []) replaceFile(file.path, file.contents);
  const inputs: Record<string, number> = {};
  for (const file of Object.keys(result.metafile?.inputs ?? {})) {
    inputs[file] = statSync(path.join(repoRoot, file)).mtimeMs;
  }
  const stamp: BuildStamp = { root: repoRoot, esbuild: esbuildVersion, entries: SERVICE_ENTRIES, inputs };
  replaceFile(path.join(SERVICES_DIST, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
}

let building: Promise<void> | undefined;

/**
 * Builds the service bundles when they are missing or older than their sources (a check of a few ms). Services
 * that start together share the one build under way.
 */
export function ensureServiceBuild(): Promise<void> {
  if (building) return building;
  if (staleReason() === undefined) return Promise.resolve();
  building = build().finally(() => {
    building = undefined;
  });
  return building;
}

/**
 * How a spec runs a service's entry point as its bundle: the command, and the {@link ServiceSpec.prepare} step that
 * builds the bundles first when they are stale.
 */
export function serviceEntry(
  entry: (typeof SERVICE_ENTRIES)[number],
  ...args: string[]
): { command: string; args: string[]; prepare: () => Promise<void> } {
  return {
    command: process.execPath,
    // A young generation of 2 × 4 MB semi-spaces instead of V8's 2 × 16 MB: a service's allocation churn otherwise
    // keeps up to 24 MB more resident (an allocating script: 77 MB RSS, 57 MB with this), for a few more scavenges
    // of a millisecond or less. The benchmarks run their own processes and keep V8's default.
    args: ['--enable-source-maps', '--max-semi-space-size=4', bundlePath(entry), ...args],
    prepare: ensureServiceBuild,
  };
}
