import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from './errors.ts';

const WATCHDOG = fileURLToPath(new URL('./child-watchdog.mjs', import.meta.url));
const PROBE_TIMEOUT_MS = 5000;

/** How to run and probe one service. start.ts and the stack build lists of these. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Polled until it resolves true; a throw or false means "not yet". It must check the real thing (a metadata
   * request, an HTTP answer), never the mere passage of time.
   */
  ready: (signal: AbortSignal) => Promise<boolean>;
  /** @default 120000 */
  readyTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL on stop. @default 20000 */
  stopTimeoutMs?: number;
  /** Addresses to print once ready, e.g. `{ brokers: '127.0.0.1:9092' }`. */
  addresses?: Record<string, string>;
  /**
   * For {@link startServices}: names of earlier services in the same list this one needs ready first; `[]`
   * starts it at once. @default the previous service in the list
   */
  after?: readonly string[];
}

/** A started service. */
export interface RunningService {
  readonly name: string;
  /** Pid of the process-group leader (the watchdog), also the group id. */
  readonly pid: number;
  readonly logFile: string;
  readonly addresses: Record<string, string>;
  /** Resolves with the exit code once the process group leader is gone. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL to the whole group after the grace period; resolves when it has exited. */
  stop(): Promise<void>;
}

/** Last lines of a log, for error messages that explain themselves. */
export function logTail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Whether a process (or, for a negative id, the process group `-pid`) exists. EPERM means it exists under
 * another user, which counts as alive: its pid is not free.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidFile(runDir: string, name: string): string {
  return path.join(runDir, 'pids', `${name}.pid`);
}

/**
 * Kills process groups recorded by an earlier run in the same run dir that are still alive (a supervisor that
 * was SIGKILLed together with its watchdogs). Only groups whose leader still runs our watchdog are touched.
 */
export function reapStale(runDir: string, names: string[]): string[] {
  const reaped: string[] = [];
  for (const name of names) {
    const file = pidFile(runDir, name);
    if (!existsSync(file)) continue;
    const pgid = Number(readFileSync(file, 'utf8'));
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pgid}/cmdline`, 'utf8');
    } catch {
      // not Linux, or gone: fall back to "alive means ours" only when the group exists
    }
    if (Number.isInteger(pgid) && pgid > 1 && isAlive(-pgid) && (!cmdline || cmdline.includes(WATCHDOG))) {
      signalGroup(pgid, 'SIGKILL');
      reaped.push(`${name} (pgid ${pgid})`);
    }
    rmSync(file, { force: true });
  }
  return reaped;
}

async function waitReady(
  spec: ServiceSpec,
  child: ChildProcess,
  exited: Promise<number | null>,
  logFile: string,
) {
  const timeoutMs = spec.readyTimeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
    controller.abort();
  });
  let delay = 100;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) break;
    try {
      // Each probe gets its own deadline, so a service that accepts connections but never answers cannot
      // hold the wait past its timeout.
      const probeSignal = AbortSignal.any([controller.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
      if (await spec.ready(probeSignal)) return;
    } catch (error) {
      lastError = error;
    }
    if (exitCode !== undefined) break;
    // Poll interval between real probes, growing to 1 s; readiness is decided by the probe alone.
    await Promise.race([new Promise((r) => setTimeout(r, delay)), exited]);
    delay = Math.min(delay * 2, 1000);
  }
  controller.abort();
  if (exitCode !== undefined) {
    throw new ServiceError(
      spec.name,
      `exited with ${exitCode} before it was ready; last log lines (${logFile}):\n${logTail(logFile)}`,
      logFile,
    );
  }
  signalGroup(child.pid ?? 0, 'SIGKILL');
  const why = lastError instanceof Error ? ` (last probe: ${lastError.message})` : '';
  throw new ServiceError(
    spec.name,
    `not ready after ${timeoutMs} ms${why}; last log lines (${logFile}):\n${logTail(logFile)}`,
    logFile,
  );
}

/**
 * Starts `spec` under a watchdog in its own process group, logging to `<runDir>/logs/<name>.log`, and waits until
 * its readiness probe passes. If the starting process dies, the watchdog notices its stdin closing and stops
 * the service, so nothing is orphaned.
 */
export async function startService(spec: ServiceSpec, runDir: string): Promise<RunningService> {
  const logFile = path.join(runDir, 'logs', `${spec.name}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  mkdirSync(path.dirname(pidFile(runDir, spec.name)), { recursive: true });
  const fd = openSync(logFile, 'a');
  const grace = spec.stopTimeoutMs ?? 20_000;
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [WATCHDOG, String(grace), spec.command, ...spec.args], {
      cwd: spec.cwd ?? runDir,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['pipe', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new ServiceError(spec.name, `could not spawn ${spec.command}`, logFile);
  }
  writeFileSync(pidFile(runDir, spec.name), String(pid));
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      rmSync(pidFile(runDir, spec.name), { force: true });
      resolve(code);
    });
  });
  // Let a parent whose work is done exit: the pipe and child must not keep its event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (!isAlive(-pid)) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // exited between the check and the signal
      }
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), grace + 2000);
      await exited;
      clearTimeout(timer);
      // The leader is gone; anything left in its group is an orphan in the making.
      if (isAlive(-pid)) signalGroup(pid, 'SIGKILL');
    })();
    return stopping;
  };

  try {
    await waitReady(spec, child, exited, logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: spec.name, pid, logFile, addresses: spec.addresses ?? {}, exited, stop };
}

/** Options of {@link startServices}. */
export interface StartServicesOptions {
  /** Wraps each service's start, e.g. to report it as a progress step. @default start as it is */
  step?: (spec: ServiceSpec, start: () => Promise<RunningService>) => Promise<RunningService>;
}

/** Thrown inside {@link startServices} for a service not started because another one failed. */
const SKIPPED = Symbol('skipped');

/**
 * Starts each service once those it comes {@link ServiceSpec.after} are ready, so independent ones start
 * concurrently; on any failure starts nothing more and stops those already started. Returns them in list order,
 * which is a valid start order; stop them in reverse ({@link stopServices}).
 */
export async function startServices(
  specs: readonly ServiceSpec[],
  runDir: string,
  options: StartServicesOptions = {},
): Promise<RunningService[]> {
  // Dependencies on earlier entries only: the list stays a start order and cannot hold a cycle.
  const seen = new Set<string>();
  for (const spec of specs) {
    for (const dep of spec.after ?? []) {
      if (!seen.has(dep))
        throw new Error(`service ${spec.name} comes after ${dep}, which is not listed before it`);
    }
    seen.add(spec.name);
  }
  const started = new Map<string, RunningService>();
  let failed = false;
  const ready = new Map<string, Promise<RunningService>>();
  specs.forEach((spec, i) => {
    const deps = spec.after ?? (i > 0 ? [specs[i - 1]?.name ?? ''] : []);
    const starting = Promise.all(deps.map((d) => ready.get(d))).then(async () => {
      if (failed) throw SKIPPED;
      const start = () => startService(spec, runDir);
      const service = await (options.step ? options.step(spec, start) : start());
      started.set(spec.name, service);
      return service;
    });
    starting.catch(() => {
      failed = true;
    });
    ready.set(spec.name, starting);
  });
  const settled = await Promise.allSettled(ready.values());
  const inOrder = specs.flatMap((s) => started.get(s.name) ?? []);
  const error = settled.find(
    (r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason !== SKIPPED,
  );
  if (error) {
    await stopServices(inOrder);
    throw error.reason;
  }
  return inOrder;
}

/** Stops services in reverse start order, each fully before the next. */
export async function stopServices(services: RunningService[]): Promise<void> {
  for (const service of [...services].reverse()) await service.stop();
}
