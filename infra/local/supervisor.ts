import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from './errors.ts';

const WATCHDOG = fileURLToPath(new URL('./child-watchdog.mjs', import.meta.url));
const PROBE_TIMEOUT_MS = 5000;

/** The run of a service a readiness probe checks: state a previous run left behind must not count. */
export interface RunInfo {
  /** Epoch ms when this run was spawned. */
  startedAt: number;
  /** Its watchdog's pid (the group id). */
  pgid: number;
}

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
  ready: (signal: AbortSignal, run: RunInfo) => Promise<boolean>;
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
  /**
   * This service's own restart timing over the policy it is started with (which alone decides whether it restarts
   * at all): e.g. a job whose start is itself many seconds long restarts at once. @default the policy's
   */
  restartTiming?: Pick<RestartPolicy, 'initialDelayMs'>;
}

/**
 * What {@link startService} does when a service exits on its own after it was ready. Absent: nothing (the exit is
 * final, {@link RunningService.exited} settles), as unit tests that expect an exit need.
 */
export interface RestartPolicy {
  /** Delay before the first restart; doubles per consecutive exit. @default 1000 */
  initialDelayMs?: number;
  /** @default 30000 */
  maxDelayMs?: number;
  /** A run that stayed ready this long resets the delay to `initialDelayMs`. @default 60000 */
  resetAfterMs?: number;
  /** This many exits within `windowMs` is a crash loop: no more restarts, the service is given up. @default 5 */
  maxExits?: number;
  /** @default 120000 */
  windowMs?: number;
}

/** The policy of `npm start`, `npm run stack` and the pipeline tests: 1 s doubling to 30 s, 5 exits in 2 min. */
export const DEFAULT_RESTART_POLICY: Required<RestartPolicy> = {
  initialDelayMs: 1_000,
  maxDelayMs: 30_000,
  resetAfterMs: 60_000,
  maxExits: 5,
  windowMs: 120_000,
};

/** Where a supervised service is in its life. */
export type ServiceState = 'starting' | 'ready' | 'backoff' | 'stopped';

/** How one run of a service ended: the watchdog's exit code (128+n when the service died of signal n), or the
 * signal that killed the watchdog itself. */
export interface ServiceExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ISO time of the exit. */
  at: string;
}

/** Emitted (`restart`) when a service exited unexpectedly and will be started again after `delayMs`. */
export interface RestartEvent {
  service: string;
  exit: ServiceExit;
  /** 1 for the first restart of this service. */
  attempt: number;
  delayMs: number;
}

/** Events of {@link RunningService.events}. */
export interface ServiceEvents {
  /** A run ended (any reason, stops included). */
  exit: [ServiceExit];
  /** An unexpected exit; a restart is scheduled. */
  restart: [RestartEvent];
  /** A restarted run passed its readiness probe again. */
  ready: [];
  /** Crash loop: no more restarts; {@link RunningService.failure} says why. */
  'give-up': [ServiceError];
}

/** A started service. */
export interface RunningService {
  readonly name: string;
  /** Pid of the current run's process-group leader (the watchdog), also the group id; changes on a restart. */
  readonly pid: number;
  readonly logFile: string;
  readonly addresses: Record<string, string>;
  readonly state: ServiceState;
  /** How many times the service was started again after an unexpected exit. */
  readonly restarts: number;
  readonly lastExit: ServiceExit | undefined;
  /** Set when the restart policy gave up (crash loop); the message carries the log's last lines. */
  readonly failure: ServiceError | undefined;
  readonly events: EventEmitter<ServiceEvents>;
  /**
   * Resolves with the exit code once the service is down for good: stopped, exited without a restart policy, or
   * given up by it.
   */
  readonly exited: Promise<number | null>;
  /**
   * SIGTERM, then SIGKILL to the whole group after the grace period; resolves when it has exited. Cancels a
   * restart that is pending (backoff) or under way.
   */
  stop(): Promise<void>;
}

/** "exit code 3" / "signal SIGKILL (137)", for messages. */
export function describeExit(exit: Pick<ServiceExit, 'code' | 'signal'>): string {
  if (exit.signal) return `signal ${exit.signal}`;
  if (exit.code !== null && exit.code > 128) {
    const name = Object.entries(constants.signals).find(([, n]) => n === (exit.code ?? 0) - 128)?.[0];
    if (name) return `signal ${name} (exit code ${exit.code})`;
  }
  return `exit code ${exit.code}`;
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

async function waitReady(spec: ServiceSpec, run: Run, logFile: string) {
  const { pid, exited } = run;
  const timeoutMs = spec.readyTimeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const controller = new AbortController();
  let exitCode: number | null | undefined;
  void exited.then((exit) => {
    exitCode = (exit as ServiceExit).code;
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
      if (await spec.ready(probeSignal, { startedAt: run.startedAt, pgid: pid })) return;
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
  signalGroup(pid, 'SIGKILL');
  const why = lastError instanceof Error ? ` (last probe: ${lastError.message})` : '';
  throw new ServiceError(
    spec.name,
    `not ready after ${timeoutMs} ms${why}; last log lines (${logFile}):\n${logTail(logFile)}`,
    logFile,
  );
}

/** One run of a service: its watchdog (group leader) and how it ended. */
interface Run {
  pid: number;
  startedAt: number;
  exited: Promise<ServiceExit>;
}

/** Spawns the watchdog running `spec` in a new process group, logging to `logFile` (appended). */
function spawnRun(spec: ServiceSpec, runDir: string, logFile: string, grace: number): Run {
  const startedAt = Date.now();
  const fd = openSync(logFile, 'a');
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
  const exited = new Promise<ServiceExit>((resolve) => {
    child.on('exit', (code, signal) => {
      // Only this run's pid file: a later run may have written its own already.
      try {
        if (readFileSync(pidFile(runDir, spec.name), 'utf8') === String(pid))
          rmSync(pidFile(runDir, spec.name));
      } catch {
        // already removed
      }
      resolve({ code, signal, at: new Date().toISOString() });
    });
  });
  // Let a parent whose work is done exit: the pipe and child must not keep its event loop alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return { pid, startedAt, exited };
}

/** Options of {@link startService}. */
export interface StartServiceOptions {
  /** Restart the service when it exits on its own after it was ready. @default no restarts */
  restart?: RestartPolicy;
}

/**
 * Starts `spec` under a watchdog in its own process group, logging to `<runDir>/logs/<name>.log`, and waits until
 * its readiness probe passes. If the starting process dies, the watchdog notices its stdin closing and stops
 * the service, so nothing is orphaned. With `options.restart`, a later unexpected exit starts it again (same log,
 * after a separator line) with exponential backoff, until a crash loop gives it up.
 */
export async function startService(
  spec: ServiceSpec,
  runDir: string,
  options: StartServiceOptions = {},
): Promise<RunningService> {
  const logFile = path.join(runDir, 'logs', `${spec.name}.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  mkdirSync(path.dirname(pidFile(runDir, spec.name)), { recursive: true });
  const grace = spec.stopTimeoutMs ?? 20_000;
  const policy = options.restart
    ? { ...DEFAULT_RESTART_POLICY, ...options.restart, ...spec.restartTiming }
    : undefined;
  const events = new EventEmitter<ServiceEvents>();
  // No listener is required; an 'error'-free emitter never throws on emit.
  let run = spawnRun(spec, runDir, logFile, grace);
  let state: ServiceState = 'starting';
  let restarts = 0;
  let lastExit: ServiceExit | undefined;
  let failure: ServiceError | undefined;
  let stopRequested = false;
  let cancelBackoff: (() => void) | undefined;
  let finish: (code: number | null) => void = () => {};
  const exited = new Promise<number | null>((resolve) => {
    finish = (code) => {
      state = 'stopped';
      resolve(code);
    };
  });

  const stopRun = async (current: Run) => {
    if (!isAlive(-current.pid)) return;
    try {
      process.kill(current.pid, 'SIGTERM');
    } catch {
      // exited between the check and the signal
    }
    const timer = setTimeout(() => signalGroup(current.pid, 'SIGKILL'), grace + 2000);
    await current.exited;
    clearTimeout(timer);
    // The leader is gone; anything left in its group is an orphan in the making.
    if (isAlive(-current.pid)) signalGroup(current.pid, 'SIGKILL');
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      stopRequested = true;
      cancelBackoff?.();
      // The run of this moment; a restart cannot begin once stopRequested is set.
      await stopRun(run);
      await exited;
    })();
    return stopping;
  };

  try {
    await waitReady(spec, run, logFile);
  } catch (error) {
    await stopRun(run);
    finish((await run.exited).code);
    throw error;
  }
  state = 'ready';
  let readySince = Date.now();

  // Supervision: runs in the background for the service's life; ends by settling `exited`.
  void (async () => {
    const recentExits: number[] = [];
    let consecutive = 0;
    for (;;) {
      const exit = await run.exited;
      lastExit = exit;
      events.emit('exit', exit);
      // Whatever the leader left in its group would otherwise hold ports the next run needs.
      if (isAlive(-run.pid)) signalGroup(run.pid, 'SIGKILL');
      if (stopRequested || !policy) return finish(exit.code);
      const now = Date.now();
      if (state === 'ready' && now - readySince >= policy.resetAfterMs) consecutive = 0;
      recentExits.push(now);
      while ((recentExits[0] ?? now) < now - policy.windowMs) recentExits.shift();
      if (recentExits.length >= policy.maxExits) {
        failure = new ServiceError(
          spec.name,
          `crash loop: exited ${recentExits.length} times within ${policy.windowMs / 1000} s (last: ` +
            `${describeExit(exit)}), not restarting it again. Read its log for the cause, fix it and start ` +
            `again; last log lines (${logFile}):\n${logTail(logFile)}`,
          logFile,
        );
        finish(exit.code);
        events.emit('give-up', failure);
        return;
      }
      consecutive += 1;
      const delayMs = Math.min(policy.initialDelayMs * 2 ** (consecutive - 1), policy.maxDelayMs);
      state = 'backoff';
      events.emit('restart', { service: spec.name, exit, attempt: restarts + 1, delayMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        cancelBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      cancelBackoff = undefined;
      if (stopRequested) return finish(exit.code);
      restarts += 1;
      appendFileSync(
        logFile,
        `\n----- [supervisor] ${new Date().toISOString()} restart ${restarts} of ${spec.name} after ` +
          `${describeExit(exit)} -----\n`,
      );
      state = 'starting';
      run = spawnRun(spec, runDir, logFile, grace);
      try {
        await waitReady(spec, run, logFile);
        state = 'ready';
        readySince = Date.now();
        events.emit('ready');
      } catch {
        // It exited before it was ready, or waitReady killed it for not getting ready: the loop counts the exit.
      }
    }
  })();

  return {
    name: spec.name,
    get pid() {
      return run.pid;
    },
    logFile,
    addresses: spec.addresses ?? {},
    get state() {
      return state;
    },
    get restarts() {
      return restarts;
    },
    get lastExit() {
      return lastExit;
    },
    get failure() {
      return failure;
    },
    events,
    exited,
    stop,
  };
}

/** Options of {@link startServices}. */
export interface StartServicesOptions {
  /** Wraps each service's start, e.g. to report it as a progress step. @default start as it is */
  step?: (spec: ServiceSpec, start: () => Promise<RunningService>) => Promise<RunningService>;
  /** Restart policy of every service started. @default no restarts */
  restart?: RestartPolicy;
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
      const start = () => startService(spec, runDir, { restart: options.restart });
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
