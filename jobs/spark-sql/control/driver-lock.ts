/**
 * One driver per checkpoint: a lock file in the job's run directory (`driver.lock`) naming the process that owns the
 * run. Two drivers on one checkpoint corrupt it (`batch N doesn't exist`), so the launcher takes the lock before it
 * submits, atomically (`O_EXCL`), and refuses to start while its owner lives.
 *
 * The owner is the driver's spark-submit process (the run's `launcherPid`), which outlives `job:submit`; the
 * launcher holds the lock in its own name only while it prepares the submit. A pid alone could be reused, so the
 * lock records the process's start time (`/proc/<pid>/stat`, field 22); a lock whose owner is gone, or whose pid
 * now belongs to another process, is stale and taken over. Released by the runner when the driver ends and by the
 * launcher when it stopped or killed the run; one left by a SIGKILLed driver is stale for the next start.
 */
import { readFileSync } from 'node:fs';
import { link, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { isAlive } from '../../../infra/local/supervisor.ts';
import { JobError } from './errors.ts';

/** The lock's content. */
export interface LockOwner {
  job: string;
  pid: number;
  /** Start time of `pid` in clock ticks since boot (`/proc/<pid>/stat` field 22); absent off Linux. */
  startTime?: string;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The supervisor-run launcher (main.ts) the driver is tied to, if any: the driver exits when it does. */
  tiedTo?: number;
}

/** Start time of a process (`/proc/<pid>/stat` field 22), undefined when it does not exist or off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` has exited and only waits to be reaped (state Z): it holds nothing any more. A SIGKILLed driver whose
 * parent died with it stays so until its new parent reaps it, which a restart started at once can see.
 */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Whether `pid` runs: it exists and is not a zombie (a killed process its parent has not reaped yet). */
export const isRunning = (pid: number) => isAlive(pid) && !isZombie(pid);

/** Whether the lock's owner still runs: same host, pid alive (not a zombie) and, where known, the same start time. */
export function ownerAlive(owner: LockOwner): boolean {
  // Another host's driver cannot be checked from here: count it as alive rather than break its lock.
  if (owner.host !== hostname()) return true;
  if (!isRunning(owner.pid)) return false;
  const now = processStartTime(owner.pid);
  return owner.startTime === undefined || now === undefined || now === owner.startTime;
}

/** The owner record of `pid` now. */
export function ownerRecord(job: string, pid: number, tiedTo?: number): LockOwner {
  const startTime = processStartTime(pid);
  return {
    job,
    pid,
    ...(startTime ? { startTime } : {}),
    host: hostname(),
    since: new Date().toISOString(),
    ...(tiedTo ? { tiedTo } : {}),
  };
}

/** The lock file of a run directory. */
export const lockFile = (runDir: string) => path.join(runDir, 'driver.lock');

/** The lock's owner, or undefined when there is no lock (or it cannot be read: a torn write is no owner). */
export async function readLock(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

/** A live lock, refused: {@link acquireDriverLock} when another driver owns the checkpoint. */
export class DriverLockedError extends JobError {
  constructor(
    readonly owner: LockOwner,
    file: string,
  ) {
    super(
      `job ${owner.job} is already running on this checkpoint: driver pid ${owner.pid} on ${owner.host} since ` +
        `${owner.since}${owner.tiedTo ? ` (started by pid ${owner.tiedTo})` : ''}; lock ${file}. Stop it first ` +
        `with \`npm run job:stop ${owner.job}\` (same SPARK_JOBS_STATE), or, if it was started by npm start, ` +
        'stop npm start.',
    );
  }
}

/** Result of {@link acquireDriverLock}. */
export interface Acquired {
  /** The stale owner whose lock was taken over, if any. */
  tookOver?: LockOwner;
}

/**
 * Takes the lock for `owner`: creates the file exclusively; on an existing lock, refuses with
 * {@link DriverLockedError} while its owner lives, else takes it over (rename the stale file away — atomic, so of
 * two launchers taking over the same stale lock only one wins — then create again).
 */
export async function acquireDriverLock(file: string, owner: LockOwner): Promise<Acquired> {
  let tookOver: LockOwner | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(file, `${JSON.stringify(owner, null, 2)}\n`, { flag: 'wx' });
      return tookOver ? { tookOver } : {};
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await readLock(file);
    if (current && ownerAlive(current)) throw new DriverLockedError(current, file);
    const aside = `${file}.stale-${process.pid}-${attempt}`;
    try {
      await rename(file, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue; // someone else moved it: try again
      throw error;
    }
    const moved = await readLock(aside);
    if (moved && ownerAlive(moved)) {
      // A fresh lock was taken between our read and the rename: put it back (link fails if yet another exists).
      await link(aside, file).catch(() => {});
      await rm(aside, { force: true });
      throw new DriverLockedError(moved, file);
    }
    await rm(aside, { force: true });
    tookOver = current ?? moved;
  }
  throw new JobError(`could not take the driver lock ${file}: it kept changing; try again`);
}

/** Hands a held lock to a new owner (the spawned driver); atomic (write beside, rename over). */
export async function transferDriverLock(file: string, owner: LockOwner): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(owner, null, 2)}\n`);
  await rename(tmp, file);
}

/** Removes the lock if `pid` owns it; a lock another driver took over in the meantime stays. */
export async function releaseDriverLock(file: string, pid: number): Promise<void> {
  if ((await readLock(file))?.pid === pid) await rm(file, { force: true });
}
