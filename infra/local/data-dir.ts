/**
 * The data directory of `npm start` / `npm run stack`: Kafka's log, the registry's database and the Spark jobs'
 * checkpoints, kept across restarts (unlike the run dir, which holds logs and pid files and is renewed at every
 * start). One stack owns it at a time, recorded in an owner file, so `npm run reset` and a second `npm start` can
 * tell that it is in use.
 */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { cacheDir } from './cache-dir.ts';
import { RuntimeError } from './errors.ts';
import { isAlive } from './supervisor.ts';

/** Marks a directory a stack made, so nothing else is ever wiped by mistake. */
export const DATA_DIR_MARKER = '.emostream-data';
const OWNER_FILE = 'owner.json';

/** Where each component keeps its state inside a data directory. */
export interface DataPaths {
  root: string;
  /** Kafka's `log.dirs` (meta.properties, the metadata log, every topic). */
  kafka: string;
  /** Apicurio Registry's H2 database files. */
  registry: string;
  /** SPARK_JOBS_STATE: the jobs' run directories and checkpoints. */
  sparkState: string;
  /** The secured stack's CA, broker keystore and passwords (kafka-security.ts), made on the first `--secure` start. */
  security: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    kafka: path.join(root, 'kafka'),
    registry: path.join(root, 'registry'),
    sparkState: path.join(root, 'spark-jobs'),
    security: path.join(root, 'security'),
  };
}

/** `--data-dir` over `EMOSTREAM_DATA_DIR` over `<cache>/data`. */
export function dataDirFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const given = flags['data-dir'] ?? env.EMOSTREAM_DATA_DIR;
  return typeof given === 'string' && given ? path.resolve(given) : path.join(cacheDir(env), 'data');
}

/** Who holds a data directory. */
export interface DataDirOwner {
  pid: number;
  startedAt: string;
}

/** The live owner of `root`, if a running stack holds it; a dead owner's record counts as free. */
export function dataDirOwner(root: string): DataDirOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path.join(root, OWNER_FILE), 'utf8')) as DataDirOwner;
    return Number.isInteger(owner.pid) && owner.pid > 1 && isAlive(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

function inUse(root: string, owner: DataDirOwner, what: string): RuntimeError {
  return new RuntimeError(
    `${what}: data dir ${root} is in use by a running stack (pid ${owner.pid}, started ${owner.startedAt}). ` +
      `Stop it first (Ctrl-C in its terminal, or kill -TERM ${owner.pid}), or pick another with --data-dir.`,
  );
}

function assertOurs(root: string): void {
  if (existsSync(root) && readdirSync(root).length > 0 && !existsSync(path.join(root, DATA_DIR_MARKER))) {
    throw new RuntimeError(
      `refusing to use ${root} as data dir: it is not empty and was not made by a stack; pick another with --data-dir`,
    );
  }
}

/**
 * Takes `root` for this process (creating it), refusing a directory another live stack holds or one a stack did
 * not make. Returns the release function, which gives it up again (only if still ours).
 */
export function claimDataDir(root: string, pid = process.pid): () => void {
  assertOurs(root);
  const owner = dataDirOwner(root);
  if (owner && owner.pid !== pid) throw inUse(root, owner, 'cannot start');
  mkdirSync(root, { recursive: true });
  writeFileSync(
    path.join(root, DATA_DIR_MARKER),
    'Made by EmoStream: Kafka data, registry database and Spark checkpoints. `npm run reset` wipes it.\n',
  );
  const file = path.join(root, OWNER_FILE);
  writeFileSync(file, JSON.stringify({ pid, startedAt: new Date().toISOString() } satisfies DataDirOwner));
  return () => {
    try {
      if ((JSON.parse(readFileSync(file, 'utf8')) as DataDirOwner).pid === pid) rmSync(file, { force: true });
    } catch {
      // already gone
    }
  };
}

/** Bytes under `p` (files, recursively; symlinks are not followed). */
export function treeBytes(p: string): number {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(p);
  } catch {
    return 0; // removed under us (a rolled segment)
  }
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of readdirSync(p)) total += treeBytes(path.join(p, name));
  return total;
}

/** `1.5 GB`, `12.0 MB`, `800 B`: decimal units, as `df -H` and disk vendors count. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One entry of a data directory with its size. */
export interface DataEntry {
  path: string;
  bytes: number;
}

/** The top-level entries of `root` with their sizes, biggest first (empty when it does not exist). */
export function listDataDir(root: string): DataEntry[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => ({ path: path.join(root, name), bytes: treeBytes(path.join(root, name)) }))
    .sort((a, b) => b.bytes - a.bytes || a.path.localeCompare(b.path));
}

/** What {@link wipeDataDir} removed. */
export interface WipeResult {
  root: string;
  entries: DataEntry[];
  totalBytes: number;
}

/**
 * Deletes everything in `root` (the directory itself too), refusing while a stack holds it or when a stack did
 * not make it. Returns what it deleted, for the caller to print.
 */
export function wipeDataDir(root: string): WipeResult {
  const owner = dataDirOwner(root);
  if (owner && owner.pid !== process.pid) throw inUse(root, owner, 'cannot reset');
  assertOurs(root);
  const entries = listDataDir(root);
  rmSync(root, { recursive: true, force: true });
  return { root, entries, totalBytes: entries.reduce((sum, e) => sum + e.bytes, 0) };
}

/** Lines that describe a {@link WipeResult} to a person. */
export function describeWipe(result: WipeResult): string[] {
  if (result.entries.length === 0) return [`data dir ${result.root} is empty; nothing to delete`];
  return [
    `deleted data dir ${result.root} (${formatBytes(result.totalBytes)}):`,
    ...result.entries.map((e) => `  ${formatBytes(e.bytes).padStart(9)}  ${e.path}`),
  ];
}

/** Free disk below which `npm start` warns. @default 2 GB */
export const LOW_DISK_BYTES = 2e9;

/**
 * The warning to print when `freeBytes` on the data dir's file system is below `threshold`, saying what to do;
 * undefined when there is room.
 */
export function lowDiskWarning(
  root: string,
  freeBytes: number,
  usedBytes: number,
  threshold = LOW_DISK_BYTES,
): string | undefined {
  if (freeBytes >= threshold) return undefined;
  return (
    `only ${formatBytes(freeBytes)} free on the disk of ${root} (it holds ${formatBytes(usedBytes)}); Kafka stops ` +
    'when the disk fills. Free some space, lower the retention (EMOSTREAM_RETENTION_BYTES, see README) or wipe ' +
    'the data with `npm run reset`.'
  );
}

/** Free bytes for unprivileged users on the file system holding `p` (or its nearest existing parent). */
export function freeBytes(p: string): number {
  let dir = p;
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/** The start-up lines about the data dir: where, how big, and a warning when the disk runs low. */
export function dataDirReport(root: string, threshold = LOW_DISK_BYTES): { info: string; warning?: string } {
  const used = treeBytes(root);
  const state = used > 0 ? `${formatBytes(used)}, resuming` : 'empty, starting fresh';
  return {
    info: `data dir ${root} (${state}; \`npm run reset\` wipes it)`,
    warning: lowDiskWarning(root, freeBytes(root), used, threshold),
  };
}
