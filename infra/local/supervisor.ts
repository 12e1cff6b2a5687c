import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import { ServiceError } from './errors.ts';
import { processGroupMembers } from './process-cpu.ts';

const PROBE_TIMEOUT_MS = 5000;

/**
 * Set in every service's environment to its pid file's path: how {@link reapStale} knows a process group left
 * behind is one this supervisor started (a process's initial environment survives exec and is inherited by what it
 * starts, e.g. spark-submit's JVM), never some other program's that reused the pid.
 */
export const SUPERVISED_ENV = 'EMOSTREAM_SUPERVISED';

/** The run of a service a readiness probe checks: state a previous run left behind must not count. */
export interface RunInfo {
  /** Epoch ms when this run was spawned. */
  startedAt: number;
  /** The service's pid, which is also its process group's id. */
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
  /**
   * Run once before the service is first spawned, e.g. to build what it runs (service-build.ts); a throw fails
   * {@link startService} with that error. Restarts run what the first start prepared.
   */
  prepare?: () => Promise<void>;
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

/** How one run of a service ended. */
export interface ServiceExit {
  /** The exit code; 128+n when the service died of signal n (the shell's rule, so there always is a number). */
  code: number | null;
  /** The signal the service died of, if it did. */
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
  /** Pid of the current run's service, which leads its own process group (pid = group id); changes on a restart. */
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

/** "exit code 3" / "signal SIGKILL (exit code 137)", for messages. */
export function describeExit(exit: Pick<ServiceExit, 'code' | 'signal'>): string {
  const fromCode =
    exit.code !== null && exit.code > 128
      ? Object.entries(constants.signals).find(([, n]) => n === (exit.code ?? 0) - 128)?.[0]
      : undefined;
  const name = exit.signal ?? fromCode;
  if (name) return exit.code === null ? `signal ${name}` : `signal ${name} (exit code ${exit.code})`;
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

/** Whether any live member of group `pgid` carries `marker` in its initial environment (Linux /proc). */
function groupCarries(pgid: number, marker: string): boolean {
  return processGroupMembers(pgid).some((m) => {
    try {
      return readFileSync(`/proc/${m.pid}/environ`, 'utf8').split('\0').includes(marker);
    } catch {
      return false; // gone meanwhile, or not ours to read
    }
  });
}

/**
 * Kills the process groups an earlier run in the same run dir left alive (every pid file in `<runDir>/pids`): a
 * service that outlived a SIGKILLed supervisor because it ignored the SIGTERM its parent's death sent it, or was
 * still being spawned at that moment. Only groups with a member whose environment names that very pid file
 * ({@link SUPERVISED_ENV}) are touched: a pid reused by another program is left alone. Returns what it killed.
 */
export function reapStale(runDir: string): string[] {
  const reaped: string[] = [];
  const dir = path.join(runDir, 'pids');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.pid')) : [];
  for (const file of files) {
    const name = file.slice(0, -'.pid'.length);
    const pgid = Number(readFileSync(pidFile(runDir, name), 'utf8'));
    if (
      Number.isInteger(pgid) &&
      pgid > 1 &&
      groupCarries(pgid, `${SUPERVISED_ENV}=${pidFile(runDir, name)}`)
    ) {
      signalGroup(pgid, 'SIGKILL');
      reaped.push(`${name} (pgid ${pgid})`);
    }
    rmSync(pidFile(runDir, name), { force: true });
  }
  return reaped;
}

let setprivPath: string | undefined;

/**
 * util-linux's `setpriv` (Debian's util-linux package, essential there; `--pdeathsig` since 2.33), found once on
 * PATH or in /usr/bin. Named in a clear error when missing.
 */
function setpriv(service: string, logFile: string): string {
  if (setprivPath) return setprivPath;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/bin'];
  const found = dirs.map((d) => path.join(d, 'setpriv')).find((p) => existsSync(p));
  if (!found) {
    throw new ServiceError(
      service,
      'setpriv (util-linux 2.33 or newer) was not found on PATH: the supervisor runs every service through it so ' +
        'that the service stops when the supervisor dies. Install util-linux (Debian/Ubuntu: apt-get install util-linux).',
      logFile,
    );
  }
  setprivPath = found;
  return found;
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

/** One run of a service: its pid (group leader and id) and how it ended. */
interface Run {
  pid: number;
  startedAt: number;
  exited: Promise<ServiceExit>;
}

/**
 * Spawns `spec` as the leader of a new process group (`detached`: a session of its own), logging to `logFile`
 * (appended). It runs through `setpriv --pdeathsig SIGTERM`, which asks the kernel to send it SIGTERM when this
 * process dies, however it dies (SIGKILL included), and then execs the service in its own place: the service keeps
 * setpriv's pid, so the pid is the group id, signals reach it directly, and no extra process stays resident. The
 * death signal is the kernel's, so it cannot be missed, except in the instant between the fork and setpriv's prctl;
 * what that or a service ignoring SIGTERM leaves behind, the next start reaps ({@link reapStale}).
 */
function spawnRun(spec: ServiceSpec, runDir: string, logFile: string): Run {
  const startedAt = Date.now();
  const launcher = setpriv(spec.name, logFile);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(launcher, ['--pdeathsig', 'SIGTERM', '--', spec.command, ...spec.args], {
      cwd: spec.cwd ?? runDir,
      env: { ...(spec.env ?? process.env), [SUPERVISED_ENV]: pidFile(runDir, spec.name) },
      detached: true,
      stdio: ['ignore', fd, fd],
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
      const signalCode = signal ? 128 + (constants.signals[signal] ?? 0) : null;
      resolve({ code: code ?? signalCode, signal, at: new Date().toISOString() });
    });
  });
  // Let a parent whose work is done exit: the child must not keep its event loop alive.
  child.unref();
  return { pid, startedAt, exited };
}

/** Options of {@link startService}. */
export interface StartServiceOptions {
  /** Restart the service when it exits on its own after it was ready. @default no restarts */
  restart?: RestartPolicy;
}

/**
 * Starts `spec` in its own process group, logging to `<runDir>/logs/<name>.log`, and waits until its readiness
 * probe passes. If the starting process dies, the kernel sends the service SIGTERM (setpriv's parent-death signal,
 * see spawnRun), so nothing is orphaned. With `options.restart`, a later unexpected exit starts it again (same log,
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
  if (spec.prepare) {
    try {
      await spec.prepare();
    } catch (error) {
      throw new ServiceError(
        spec.name,
        `could not be prepared: ${error instanceof Error ? error.message : String(error)}`,
        logFile,
        { cause: error },
      );
    }
  }
  const events = new EventEmitter<ServiceEvents>();
  // No listener is required; an 'error'-free emitter never throws on emit.
  let run = spawnRun(spec, runDir, logFile);
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
    const timer = setTimeout(() => signalGroup(current.pid, 'SIGKILL'), grace);
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
      run = spawnRun(spec, runDir, logFile);
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
