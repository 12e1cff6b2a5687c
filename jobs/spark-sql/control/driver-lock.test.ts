import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  acquireDriverLock,
  DriverLockedError,
  isZombie,
  lockFile,
  ownerAlive,
  ownerRecord,
  processStartTime,
  readLock,
  releaseDriverLock,
  transferDriverLock,
} from './driver-lock.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'emostream-driver-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshLock = () => lockFile(mkdtempSync(path.join(dir, `run-${n++}-`)));

/** A pid that was just freed: a process that ran and exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid ?? 0;
}

describe('driver lock', () => {
  it('records owner pid, start time and host, and refuses a second owner while the first lives', async () => {
    const file = freshLock();
    expect(await acquireDriverLock(file, ownerRecord('emoji-swarm', process.pid))).toEqual({});
    const owner = await readLock(file);
    expect(owner).toMatchObject({ job: 'emoji-swarm', pid: process.pid, host: hostname() });
    expect(owner?.startTime).toBe(processStartTime(process.pid));
    const second = acquireDriverLock(file, ownerRecord('emoji-swarm', process.pid));
    await expect(second).rejects.toBeInstanceOf(DriverLockedError);
    await expect(second).rejects.toThrow(
      new RegExp(
        `already running on this checkpoint: driver pid ${process.pid} .*npm run job:stop emoji-swarm`,
      ),
    );
  });

  it('takes over the lock of a dead owner and says whose it was', async () => {
    const file = freshLock();
    const dead = { ...ownerRecord('emoji-swarm', process.pid), pid: await deadPid() };
    writeFileSync(file, JSON.stringify(dead));
    const { tookOver } = await acquireDriverLock(file, ownerRecord('emoji-swarm', process.pid));
    expect(tookOver?.pid).toBe(dead.pid);
    expect((await readLock(file))?.pid).toBe(process.pid);
  });

  it('treats a live pid with another start time as a reused pid: the lock is stale', async () => {
    const file = freshLock();
    writeFileSync(file, JSON.stringify({ ...ownerRecord('j', process.pid), startTime: '1' }));
    expect(ownerAlive({ ...ownerRecord('j', process.pid), startTime: '1' })).toBe(false);
    expect((await acquireDriverLock(file, ownerRecord('j', process.pid))).tookOver?.startTime).toBe('1');
  });

  it('takes over the lock of an owner that exited but is not reaped yet (a zombie)', async () => {
    // `sleep 0` exits at once; its parent execs into a sleep that never waits for it: a zombie for 5 s.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 5'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d) => r(String(d)))));
    try {
      for (let i = 0; i < 50 && !isZombie(pid); i++) await new Promise((r) => setTimeout(r, 20));
      expect(isZombie(pid)).toBe(true);
      const file = freshLock();
      writeFileSync(file, JSON.stringify(ownerRecord('emoji-swarm', pid)));
      const { tookOver } = await acquireDriverLock(file, ownerRecord('emoji-swarm', process.pid));
      expect(tookOver?.pid).toBe(pid);
      expect(isZombie(process.pid)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('takes over a torn (unreadable) lock, and of two takeovers of one stale lock exactly one wins', async () => {
    const torn = freshLock();
    writeFileSync(torn, '{"pi');
    await expect(acquireDriverLock(torn, ownerRecord('j', process.pid))).resolves.toBeDefined();

    const file = freshLock();
    writeFileSync(file, JSON.stringify({ ...ownerRecord('j', process.pid), pid: await deadPid() }));
    const results = await Promise.allSettled([
      acquireDriverLock(file, ownerRecord('j', process.pid)),
      acquireDriverLock(file, ownerRecord('j', process.pid)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason),
    ).toEqual([expect.any(DriverLockedError)]);
  });

  it('is handed to the driver and released only by its owner', async () => {
    const file = freshLock();
    await acquireDriverLock(file, ownerRecord('j', process.pid));
    await transferDriverLock(file, { ...ownerRecord('j', process.pid), pid: 4_000_000 });
    await releaseDriverLock(file, process.pid);
    expect(existsSync(file)).toBe(true);
    await releaseDriverLock(file, 4_000_000);
    expect(existsSync(file)).toBe(false);
  });
});
