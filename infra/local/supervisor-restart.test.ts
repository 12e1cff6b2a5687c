/**
 * The restart policy of startService with real child processes, spawned as the supervisor does: tiny `node -e` services
 * whose "crash" is a file the test writes (the service exits when it sees it) or a SIGKILL, and delays of tens of
 * milliseconds so backoff and crash loops are observed, not waited for.
 */
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeExit, type RestartEvent, type ServiceSpec, startService } from './supervisor.ts';

const runDir = mkdtempSync(path.join(tmpdir(), 'emostream-restart-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

const FAST = { initialDelayMs: 50, maxDelayMs: 400, resetAfterMs: 60_000, maxExits: 5, windowMs: 60_000 };

/** A service that runs until `<name>.crash` exists, then exits with the code written in it. Ready once running. */
function crashable(
  name: string,
  extra: Partial<ServiceSpec> = {},
): ServiceSpec & { crash(code: number): void } {
  const flag = path.join(runDir, `${name}.crash`);
  const script =
    `const fs = require('node:fs'); console.log('started', process.pid);` +
    `setInterval(() => { if (fs.existsSync(${JSON.stringify(flag)})) {` +
    ` const c = Number(fs.readFileSync(${JSON.stringify(flag)}, 'utf8')); fs.rmSync(${JSON.stringify(flag)});` +
    ` process.exit(c); } }, 20);`;
  return {
    name,
    command: process.execPath,
    args: ['-e', script],
    stopTimeoutMs: 2_000,
    readyTimeoutMs: 10_000,
    ready: async () => true,
    crash: (code: number) => writeFileSync(flag, String(code)),
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startService with a restart policy', { timeout: 15_000 }, () => {
  it('restarts a service that exits, with a new process group, the restart counted and logged', async () => {
    const spec = crashable('phoenix');
    const service = await startService(spec, runDir, { restart: FAST });
    try {
      const firstPid = service.pid;
      const restarted = once(service.events, 'restart') as Promise<[RestartEvent]>;
      const ready = once(service.events, 'ready');
      spec.crash(3);
      const [event] = await restarted;
      expect(event).toMatchObject({ service: 'phoenix', attempt: 1, delayMs: 50, exit: { code: 3 } });
      expect(service.state).toBe('backoff');
      await ready;
      expect(service.state).toBe('ready');
      expect(service.restarts).toBe(1);
      expect(service.lastExit?.code).toBe(3);
      expect(service.pid).not.toBe(firstPid);
      expect(() => process.kill(-service.pid, 0)).not.toThrow();
      expect(readFileSync(path.join(runDir, 'pids', 'phoenix.pid'), 'utf8')).toBe(String(service.pid));
      // Ready means probed, not printed: give the second run a moment to write its line.
      let log = '';
      for (let i = 0; i < 100 && (log.match(/^started /gm) ?? []).length < 2; i++) {
        await sleep(20);
        log = readFileSync(service.logFile, 'utf8');
      }
      expect(log.match(/^started /gm)).toHaveLength(2);
      expect(log).toMatch(/----- \[supervisor\] .* restart 1 of phoenix after exit code 3 -----/);
    } finally {
      await service.stop();
    }
    expect(service.state).toBe('stopped');
    expect(existsSync(path.join(runDir, 'pids', 'phoenix.pid'))).toBe(false);
  });

  it('restarts after a SIGKILL of the whole group, reporting the signal', async () => {
    const service = await startService(crashable('killed'), runDir, { restart: FAST });
    try {
      const restarted = once(service.events, 'restart') as Promise<[RestartEvent]>;
      const ready = once(service.events, 'ready');
      process.kill(-service.pid, 'SIGKILL');
      const [event] = await restarted;
      expect(event.exit).toMatchObject({ code: 137, signal: 'SIGKILL' });
      expect(describeExit(event.exit)).toBe('signal SIGKILL (exit code 137)');
      await ready;
      expect(service.restarts).toBe(1);
    } finally {
      await service.stop();
    }
  });

  it('doubles the delay per consecutive exit up to the maximum, then gives up on a crash loop with the log tail', async () => {
    const spec = crashable('looper');
    const service = await startService(spec, runDir, { restart: FAST });
    const delays: number[] = [];
    service.events.on('restart', (e) => delays.push(e.delayMs));
    const gaveUp = once(service.events, 'give-up');
    for (let i = 0; i < 5; i++) {
      const next = once(service.events, i < 4 ? 'ready' : 'give-up');
      spec.crash(7);
      await next;
    }
    await gaveUp;
    expect(delays).toEqual([50, 100, 200, 400]);
    expect(service.state).toBe('stopped');
    expect(await service.exited).toBe(7);
    expect(service.failure?.message).toMatch(
      /looper: crash loop: exited 5 times within 60 s \(last: exit code 7\)/,
    );
    expect(service.failure?.message).toMatch(/fix it and start again/);
    expect(service.failure?.message).toContain('started ');
    expect(() => process.kill(-service.pid, 0)).toThrow();
    await service.stop();
  });

  it("takes a service's own first delay over the policy's, doubling from there; no restarts without a policy", async () => {
    const spec = crashable('quick', { restartTiming: { initialDelayMs: 10 } });
    const service = await startService(spec, runDir, { restart: FAST });
    const delays: number[] = [];
    service.events.on('restart', (e) => delays.push(e.delayMs));
    try {
      for (let i = 0; i < 2; i++) {
        const ready = once(service.events, 'ready');
        spec.crash(1);
        await ready;
      }
      expect(delays).toEqual([10, 20]);
    } finally {
      await service.stop();
    }
    const single = crashable('no-policy', { restartTiming: { initialDelayMs: 10 } });
    const alone = await startService(single, runDir);
    single.crash(4);
    expect(await alone.exited).toBe(4);
  });

  it('resets the delay after the service stayed ready for resetAfterMs', async () => {
    const spec = crashable('steady');
    const service = await startService(spec, runDir, { restart: { ...FAST, resetAfterMs: 2_000 } });
    const delays: number[] = [];
    service.events.on('restart', (e) => delays.push(e.delayMs));
    try {
      for (const pause of [0, 0, 2_500]) {
        await sleep(pause);
        const ready = once(service.events, 'ready');
        spec.crash(1);
        await ready;
      }
      expect(delays).toEqual([50, 100, 50]);
    } finally {
      await service.stop();
    }
  });

  it('a stop during backoff cancels the pending restart and leaves nothing running', async () => {
    const spec = crashable('pending');
    const service = await startService(spec, runDir, { restart: { ...FAST, initialDelayMs: 5_000 } });
    const pgid = service.pid;
    const restarted = once(service.events, 'restart');
    spec.crash(2);
    await restarted;
    expect(service.state).toBe('backoff');
    const started = Date.now();
    await service.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(service.state).toBe('stopped');
    await sleep(300);
    expect(service.restarts).toBe(0);
    expect(service.pid).toBe(pgid);
    expect(readFileSync(service.logFile, 'utf8')).not.toMatch(/restart 1 of pending/);
    expect(existsSync(path.join(runDir, 'pids', 'pending.pid'))).toBe(false);
  });

  it('a stop while a restarted run is not ready yet stops that run', async () => {
    let probes = 0;
    const spec = crashable('slowstart', {
      // Ready at once the first time; a restarted run never gets ready.
      ready: async () => probes++ === 0,
    });
    const service = await startService(spec, runDir, { restart: FAST });
    const restarted = once(service.events, 'restart');
    spec.crash(4);
    await restarted;
    while (service.state !== 'starting') await sleep(10);
    const pgid = service.pid;
    await service.stop();
    expect(service.state).toBe('stopped');
    expect(() => process.kill(-pgid, 0)).toThrow();
  });

  it('without a policy, an exit is final as before', async () => {
    const spec = crashable('once');
    const service = await startService(spec, runDir);
    spec.crash(5);
    expect(await service.exited).toBe(5);
    expect(service.state).toBe('stopped');
    expect(service.restarts).toBe(0);
  });
});
