/**
 * startServices' ordering with real child processes (an idle `node`): independent services start together, a
 * service with `after` waits for exactly those, the default is the previous one, and a failure starts nothing more
 * and stops what did start. Readiness here is a gate the test opens, so the order is observed, not timed. And what
 * the next start reaps of an earlier run: only the groups this supervisor started there.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  isAlive,
  reapStale,
  type ServiceSpec,
  startService,
  startServices,
  stopServices,
} from './supervisor.ts';

const runDir = mkdtempSync(path.join(tmpdir(), 'emostream-supervisor-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

/**
 * Specs of idle processes whose readiness the test decides, and the order things happened in: `probe:<name>` on a
 * service's first readiness probe, `ready:<name>` once it passed.
 */
function recorder() {
  const events: string[] = [];
  const opened = new Set<string>();
  const spec = (name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
    name,
    command: process.execPath,
    args: ['-e', 'setInterval(() => {}, 1 << 30)'],
    stopTimeoutMs: 2_000,
    readyTimeoutMs: 20_000,
    ready: async () => {
      if (!events.includes(`probe:${name}`)) events.push(`probe:${name}`);
      if (!opened.has(name)) return false;
      events.push(`ready:${name}`);
      return true;
    },
    ...extra,
  });
  /** Lets a service become ready, once it has been probed (i.e. started). */
  const open = async (name: string) => {
    while (!events.includes(`probe:${name}`)) await new Promise((r) => setTimeout(r, 20));
    opened.add(name);
  };
  return { events, spec, open };
}

describe('startServices', { timeout: 60_000 }, () => {
  it('starts services without dependencies together and a dependent one after exactly those', async () => {
    const r = recorder();
    const starting = startServices(
      [r.spec('a', { after: [] }), r.spec('b', { after: [] }), r.spec('c', { after: ['a', 'b'] })],
      runDir,
    );
    // b is probed while a is not yet ready: they start together.
    await r.open('b');
    expect(r.events).toContain('probe:a');
    expect(r.events).not.toContain('probe:c');
    await r.open('a');
    await r.open('c');
    const services = await starting;
    try {
      expect(services.map((s) => s.name)).toEqual(['a', 'b', 'c']);
      const at = (e: string) => r.events.indexOf(e);
      expect(at('probe:c')).toBeGreaterThan(at('ready:a'));
      expect(at('probe:c')).toBeGreaterThan(at('ready:b'));
    } finally {
      await stopServices(services);
    }
  });

  it('starts each after the previous one by default', async () => {
    const r = recorder();
    const starting = startServices([r.spec('a'), r.spec('b')], runDir);
    await new Promise((res) => setTimeout(res, 500));
    expect(r.events).toEqual(['probe:a']);
    await r.open('a');
    await r.open('b');
    const services = await starting;
    await stopServices(services);
    expect(r.events).toEqual(['probe:a', 'ready:a', 'probe:b', 'ready:b']);
  });

  it('on a failure starts nothing more, stops what started, and throws that failure', async () => {
    const r = recorder();
    const pids = (name: string) => path.join(runDir, 'pids', `${name}.pid`);
    const starting = startServices(
      [
        r.spec('ok', { after: [] }),
        r.spec('fails', { after: [], args: ['-e', 'process.exit(3)'] }),
        r.spec('needs-fails', { after: ['fails'] }),
        r.spec('needs-ok', { after: ['ok'] }),
      ],
      runDir,
    );
    // `fails` is probed once it runs (its pid file is written before that) and has exited once the file is gone.
    while (!r.events.includes('probe:fails')) await new Promise((res) => setTimeout(res, 20));
    while (existsSync(pids('fails'))) await new Promise((res) => setTimeout(res, 20));
    await new Promise((res) => setTimeout(res, 200));
    const pgid = Number(readFileSync(pids('ok'), 'utf8'));
    // `ok` becomes ready after the failure: `needs-ok` must not start, and `ok` must be stopped.
    await r.open('ok');
    await expect(starting).rejects.toThrow(/fails: exited with 3 before it was ready/);
    expect(r.events).not.toContain('probe:needs-fails');
    expect(r.events).not.toContain('probe:needs-ok');
    expect(() => process.kill(-pgid, 0)).toThrow();
    expect(existsSync(pids('ok'))).toBe(false);
  });

  it("fails a service's start when its prepare step throws, spawning nothing", async () => {
    const r = recorder();
    const failing = r.spec('unbuilt', {
      prepare: async () => {
        throw new Error('Build failed with 1 error');
      },
    });
    await expect(startServices([failing], runDir)).rejects.toThrow(
      'unbuilt: could not be prepared: Build failed with 1 error',
    );
    expect(r.events).toEqual([]);
    expect(existsSync(path.join(runDir, 'pids', 'unbuilt.pid'))).toBe(false);
  });

  it('refuses a dependency that is not listed before the service', async () => {
    const r = recorder();
    await expect(
      startServices([r.spec('a', { after: ['b'] }), r.spec('b', { after: [] })], runDir),
    ).rejects.toThrow('service a comes after b, which is not listed before it');
    expect(r.events).toEqual([]);
  });
});

describe('reapStale', { timeout: 30_000 }, () => {
  const idle = ['-e', 'setInterval(() => {}, 1 << 30)'];
  const pidPath = (dir: string, name: string) => path.join(dir, 'pids', `${name}.pid`);

  it('kills a group the supervisor started in this run dir and leaves a foreign one whose pid a file names', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emostream-reap-'));
    // A foreign program in a group of its own: same user, no marker; its pid in a pid file as if reused.
    const foreign = spawn(process.execPath, idle, { detached: true, stdio: 'ignore' });
    const foreignPid = foreign.pid as number;
    try {
      const service = await startService(
        {
          name: 'ours',
          command: process.execPath,
          args: idle,
          ready: async () => true,
          stopTimeoutMs: 2_000,
        },
        dir,
      );
      const ours = service.pid;
      writeFileSync(pidPath(dir, 'reused'), String(foreignPid));
      writeFileSync(pidPath(dir, 'gone'), '999999999');

      // As the next start does after a supervisor died without stopping its services.
      expect(reapStale(dir)).toEqual([`ours (pgid ${ours})`]);
      expect(await service.exited).toBe(137);
      expect(isAlive(-ours)).toBe(false);
      expect(isAlive(foreignPid)).toBe(true);
      expect(readdirSync(path.join(dir, 'pids'))).toEqual([]);
    } finally {
      foreign.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
