import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PortInUseError } from './errors.ts';
import { startStack } from './local-stack.ts';
import { freePort } from './ports.ts';
import { isAlive } from './supervisor.ts';
import { repoRoot } from './versions.ts';

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const groupAlive = (pgid: number) => isAlive(-pgid);

/** Polls until no process of any group is left, or the deadline passes; returns the groups still alive. */
async function groupsGone(pgids: number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  let alive = pgids.filter(groupAlive);
  while (alive.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    alive = alive.filter(groupAlive);
  }
  return alive;
}

/** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(
      () => reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms:\n${buffer}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      const line = buffer.split('\n').find((l) => pattern.test(l));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      buffer += d.toString();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${buffer}`));
    });
  });
}

/** `npm run stack` on free ports (the supervisor's status endpoint too) in `runDir`. */
async function npmRunStack(runDir: string) {
  const ports = { kafka: 0, controller: 0, registry: 0, status: 0 };
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  // Through npm itself, as users run it: npm relays SIGTERM to its script's shell, which must have exec'd the
  // script (a plain `sh -c tsx …` would swallow the signal and leave the stack running).
  const child = spawn(
    'npm',
    [
      'run',
      '--silent',
      'stack',
      '--',
      ...Object.entries(ports).map(([name, port]) => `--${name}-port=${port}`),
      `--run-dir=${runDir}`,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, ports };
}

describe('process supervision', () => {
  it('npm run stack stops Kafka and the registry on SIGTERM, exits 0 and leaves no process behind', async () => {
    const runDir = tempDir('emostream-stack-cli-');
    const { child, exited } = await npmRunStack(runDir);
    await waitForLine(child, /Ctrl-C stops everything/, 240_000);

    const pidDir = path.join(runDir, 'pids');
    const pgids = readdirSync(pidDir).map((f) => Number(readFileSync(path.join(pidDir, f), 'utf8')));
    expect(readdirSync(pidDir).sort()).toEqual(['kafka.pid', 'registry.pid']);
    expect(pgids.every(groupAlive)).toBe(true);

    child.kill('SIGTERM');
    const stopped = await Promise.race([exited, sleep(60_000).then(() => 'still running after 60 s')]);
    if (stopped !== 0) {
      // Leave nothing behind when the assertion below fails: the stack's own process groups too.
      for (const pgid of [child.pid as number, ...pgids]) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {}
      }
      child.kill('SIGKILL');
    }
    expect(stopped).toBe(0);
    expect(await groupsGone(pgids, 5_000)).toEqual([]);
    expect(readdirSync(pidDir)).toEqual([]);
    // The broker shut down cleanly rather than being killed: its log ends with the shutdown message.
    expect(readFileSync(path.join(runDir, 'logs', 'kafka.log'), 'utf8')).toMatch(
      /shut down completed|shutting down/i,
    );
  }, 300_000);

  it('npm run stack restarts a SIGKILLed service: back ready with restarts=1 in /status and /metrics', async () => {
    const runDir = tempDir('emostream-stack-restart-');
    const { child, exited, ports } = await npmRunStack(runDir);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const pidDir = path.join(runDir, 'pids');
    const leftovers = () =>
      readdirSync(pidDir).map((f) => Number(readFileSync(path.join(pidDir, f), 'utf8')));
    let pgids: number[] = [];
    try {
      const line = await waitForLine(child, /supervisor: http:\/\/\S+\/status/, 240_000);
      const base = /(http:\/\/[^/\s]+)\/status/.exec(line)?.[1] ?? '';
      expect(base).toBe(`http://127.0.0.1:${ports.status}`);
      pgids = leftovers();
      type Status = {
        services: { name: string; state: string; pgid: number; pid: number | null; restarts: number }[];
      };
      const registry = async () =>
        ((await (await fetch(`${base}/status`)).json()) as Status).services.find(
          (s) => s.name === 'registry',
        );
      const before = await registry();
      expect(before).toMatchObject({ state: 'ready', restarts: 0 });
      expect(before?.pid).toBeGreaterThan(0);
      expect(before?.pgid).toBe(Number(readFileSync(path.join(pidDir, 'registry.pid'), 'utf8')));

      // A crash of the service itself (the registry's JVM, its group's leader), as the chaos suite picks its victims.
      process.kill(before?.pid ?? 0, 'SIGKILL');
      const killedAt = Date.now();
      for (;;) {
        const now = await registry();
        if (now?.state === 'ready' && now.restarts === 1) break;
        if (Date.now() - killedAt > 120_000) throw new Error(`registry not back: ${JSON.stringify(now)}`);
        await sleep(250);
      }
      process.stderr.write(`registry back ready ${Date.now() - killedAt} ms after SIGKILL\n`);
      const after = await registry();
      expect(after?.pgid).not.toBe(before?.pgid);
      expect(after?.pid).not.toBe(before?.pid);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^emostream_service_restarts_total\{service="registry"\} 1$/m);
      expect(metrics).toMatch(/^emostream_service_restarts_total\{service="kafka"\} 0$/m);
      expect(metrics).toMatch(/^emostream_service_up\{service="registry"\} 1$/m);
      expect(stderr).toMatch(
        /restart: registry exited \(signal SIGKILL \(exit code 137\)\); attempt 1, starting again in 1\.0 s/,
      );
      // The new run is probed for real: the registry answers.
      expect((await fetch(`http://127.0.0.1:${ports.registry}/apis/ccompat/v7/subjects`)).ok).toBe(true);
      expect(readFileSync(path.join(runDir, 'logs', 'registry.log'), 'utf8')).toMatch(
        /restart 1 of registry/,
      );
      pgids = leftovers();
    } finally {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited, sleep(60_000).then(() => 'still running after 60 s')]);
      if (stopped !== 0) {
        for (const pgid of [child.pid as number, ...pgids]) {
          try {
            process.kill(-pgid, 'SIGKILL');
          } catch {}
        }
      }
      expect(stopped).toBe(0);
    }
    expect(await groupsGone(pgids, 5_000)).toEqual([]);
    expect(readdirSync(pidDir)).toEqual([]);
  }, 400_000);

  it('a service does not outlive its supervisor, even when the supervisor is SIGKILLed', async () => {
    const runDir = tempDir('emostream-supervised-');
    const fixture = fileURLToPath(new URL('./fixtures/supervised-parent.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--import', 'tsx', fixture, runDir], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = await waitForLine(parent, /"pgid"/, 60_000);
    const { pgid, port } = JSON.parse(line) as { pgid: number; port: number };
    expect(groupAlive(pgid)).toBe(true);
    expect((await fetch(`http://127.0.0.1:${port}/`)).ok).toBe(true);

    parent.kill('SIGKILL');
    expect(await groupsGone([pgid], 10_000)).toEqual([]);
    expect(existsSync(path.join(runDir, 'logs', 'toy.log'))).toBe(true);
    // Stopped by the SIGTERM its parent's death sends (setpriv --pdeathsig), not killed by anything else.
    expect(readFileSync(path.join(runDir, 'logs', 'toy.log'), 'utf8')).toContain('toy: got SIGTERM');
  }, 90_000);

  it('refuses a port that is already taken with a PortInUseError naming it, before starting anything', async () => {
    const holder: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)),
    );
    try {
      const attempt = startStack({ provision: false, kafkaPort: port, runDir: tempDir('emostream-port-') });
      await expect(attempt).rejects.toBeInstanceOf(PortInUseError);
      await expect(attempt).rejects.toThrow(`127.0.0.1:${port}`);
    } finally {
      holder.close();
    }
  });
});
