import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURE = fileURLToPath(new URL('./service.fixture.ts', import.meta.url));

interface Line {
  level: number;
  msg: string;
  step?: string;
  stops?: number;
  signal?: string;
  err?: { message: string; cause?: { message: string } };
}

interface Run {
  child: ChildProcess;
  lines: Line[];
  /** Resolves with the first line matching `pred`. */
  line(pred: (l: Line) => boolean): Promise<Line>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts the fixture with FIXTURE_* env and collects its JSON log lines. */
function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: Line[] = [];
  const waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    rest += chunk.toString();
    const parts = rest.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) {
      if (!part) continue;
      const l = JSON.parse(part) as Line;
      lines.push(l);
      for (const w of waiters.filter((x) => x.pred(l))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    lines,
    exited,
    line: (pred) => {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        void exited.then(() => reject(new Error(`exited without such a line; got ${JSON.stringify(lines)}`)));
      });
    },
  };
}

const step = (name: string) => (l: Line) => l.step === name;

describe('runMain', { timeout: 30_000 }, () => {
  it('stops once on SIGTERM and exits 0', async () => {
    const p = run({});
    await p.line(step('ready'));
    p.child.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
    expect(p.lines).toContainEqual(expect.objectContaining({ msg: 'stopping', signal: 'SIGTERM' }));
  });

  it('stops on SIGINT during a start that has not finished, and exits 0', async () => {
    const p = run({ FIXTURE_START: 'hang' });
    await p.line(step('start'));
    p.child.kill('SIGINT');
    expect((await p.exited).code).toBe(0);
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
    expect(p.lines.some(step('ready'))).toBe(false);
  });

  it('exits 1 when a stop outlives forceExitMs, saying so', async () => {
    const p = run({ FIXTURE_STOP: 'hang', FIXTURE_FORCE_EXIT_MS: '300' });
    await p.line(step('ready'));
    const asked = Date.now();
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(1);
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
    expect(p.lines).toContainEqual(
      expect.objectContaining({ level: 50, msg: 'stop did not finish in time; exiting' }),
    );
  });

  it('takes a signal right after the first as the same one (Ctrl-C arrives twice), a later one as a second', async () => {
    const p = run({ FIXTURE_STOP: 'hang', FIXTURE_FORCE_EXIT_MS: '20000' });
    await p.line(step('ready'));
    p.child.kill('SIGINT');
    await p.line(step('stop'));
    p.child.kill('SIGINT');
    // Still stopping 1.2 s later, past the 1 s repeat grace: the relayed copy did not force an exit.
    await new Promise((r) => setTimeout(r, 1_200));
    expect(p.child.exitCode).toBeNull();
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(143);
    expect(p.lines).toContainEqual(
      expect.objectContaining({ msg: 'second signal while stopping; exiting now', signal: 'SIGTERM' }),
    );
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
  });

  it('logs a failed start with its cause, stops and exits 1', async () => {
    const p = run({ FIXTURE_START: 'fail' });
    expect((await p.exited).code).toBe(1);
    const fatal = p.lines.find((l) => l.msg === 'start failed');
    expect(fatal?.level).toBe(60);
    expect(fatal?.err?.message).toContain('cannot listen');
    expect(fatal?.err?.message).toContain('EADDRINUSE 127.0.0.1:1');
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
  });

  it('exits 1 when stop fails', async () => {
    const p = run({ FIXTURE_STOP: 'fail' });
    await p.line(step('ready'));
    p.child.kill('SIGTERM');
    expect((await p.exited).code).toBe(1);
    expect(p.lines).toContainEqual(expect.objectContaining({ msg: 'stop failed' }));
  });

  it('logs an unhandled rejection, stops and exits 1', async () => {
    const p = run({ FIXTURE_AFTER_START: 'reject' });
    expect((await p.exited).code).toBe(1);
    const fatal = p.lines.find((l) => l.msg === 'unhandled rejection; stopping');
    expect(fatal?.err?.message).toBe('lost promise');
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
  });

  it('stops and exits 1 when the service ends on its own (a crash the supervisor must see)', async () => {
    const p = run({ FIXTURE_AFTER_START: 'end' });
    expect((await p.exited).code).toBe(1);
    expect(p.lines).toContainEqual(
      expect.objectContaining({ msg: 'the service ended on its own; stopping' }),
    );
    expect(p.lines.filter(step('stop'))).toHaveLength(1);
  });
});
