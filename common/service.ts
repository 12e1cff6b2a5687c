/**
 * The lifecycle every long-running process of the repo shares: a {@link Service} is a small object with
 * `start()` and an idempotent `stop()` (as ingest, the publishers and the subscriber node are), and
 * {@link runMain} is the one place that turns signals, failures and deadlines into a stop and an exit code.
 */
import { constants } from 'node:os';
import type { Logger } from './logger.ts';

/** A long-running part of a process. */
export interface Service {
  /**
   * Resolves once the service does its job (listening, consuming); rejects with the reason it cannot. What it
   * resolves with is for direct callers (ingest answers its address); {@link runMain} ignores it.
   */
  start(): Promise<unknown>;
  /**
   * Releases everything `start` acquired, draining in order. Idempotent: later calls return the first call's
   * promise. Also called after a failed or unfinished `start`, so it must cope with a half-started service.
   */
  stop(): Promise<void>;
  /**
   * For a service that can end on its own (a Spark driver that dies): settles when it has. {@link runMain}
   * treats that as a failure — logs it, stops, exits 1 — so a supervisor sees the crash and restarts it.
   */
  readonly ended?: Promise<unknown>;
}

/** Options of {@link runMain}. */
export interface RunMainOptions {
  /**
   * How long a stop may take once asked for (by a signal or a failure); past it the process exits 1 with a log
   * line, whatever is still pending. @default 15000
   */
  forceExitMs?: number;
  /** See {@link StopSignalOptions.repeatGraceMs}. @default 1000 */
  repeatGraceMs?: number;
}

/** Exit codes of {@link runMain}. */
export const EXIT = {
  /** Stopped on SIGTERM/SIGINT, cleanly. */
  ok: 0,
  /** Start failed, stop failed, an unhandled rejection or uncaught exception, or the forced-exit deadline. */
  failed: 1,
} as const;

/** 128 + the signal's number, the shell's convention for "killed by that signal" (130 for SIGINT). */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Options of {@link onStopSignals}. */
export interface StopSignalOptions {
  /**
   * A signal this soon after the first is the same request, not a second one: a terminal's Ctrl-C reaches the
   * process directly and again relayed by npm/tsx, a few ms apart. @default 1000
   */
  repeatGraceMs?: number;
}

/**
 * The repo's one rule for stop signals: calls `handler` on SIGTERM/SIGINT with `repeat` false the first time and
 * true for any later signal, except that copies arriving within `repeatGraceMs` of the first are dropped.
 * Returns a function that removes the listeners.
 */
export function onStopSignals(
  handler: (signal: NodeJS.Signals, repeat: boolean) => void,
  options: StopSignalOptions = {},
): () => void {
  const repeatGraceMs = options.repeatGraceMs ?? 1_000;
  let firstAt = 0;
  const listener = (signal: NodeJS.Signals) => {
    if (!firstAt) {
      firstAt = Date.now();
      handler(signal, false);
    } else if (Date.now() - firstAt >= repeatGraceMs) handler(signal, true);
  };
  process.on('SIGTERM', listener);
  process.on('SIGINT', listener);
  return () => {
    process.off('SIGTERM', listener);
    process.off('SIGINT', listener);
  };
}

/**
 * Runs `service` as the process's main: starts it, and
 * - on SIGTERM or SIGINT stops it and exits 0 (1 if stop fails);
 * - on a second signal while stopping (later than `repeatGraceMs` after the first) exits at once with 128 + the
 *   signal's number;
 * - when a stop takes longer than `forceExitMs`, exits 1;
 * - when start fails, logs the error (with its cause), stops what was started and exits 1;
 * - on an unhandled rejection or uncaught exception, logs it, stops and exits 1.
 * Every exit is preceded by a log line that says why. Resolves once the service has started (e.g. to print a
 * ready line); never resolves when the process is going to exit instead.
 */
export function runMain(service: Service, logger: Logger, options: RunMainOptions = {}): Promise<void> {
  const forceExitMs = options.forceExitMs ?? 15_000;
  let stopping = false;

  const exit = (code: number): never => {
    logger.flush?.();
    process.exit(code);
  };

  /** Stops once; exits with `code` when the stop succeeds, 1 when it fails or outlives the deadline. */
  const shutdown = (code: number): void => {
    if (stopping) return;
    stopping = true;
    const force = setTimeout(() => {
      logger.error({ forceExitMs }, 'stop did not finish in time; exiting');
      exit(EXIT.failed);
    }, forceExitMs);
    // The deadline must not keep an otherwise finished process alive.
    force.unref();
    service.stop().then(
      () => exit(code),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        exit(EXIT.failed);
      },
    );
  };

  onStopSignals(
    (signal, repeat) => {
      // A stop already under way (asked by a failure, or by a first signal) is being cut short.
      if (repeat || stopping) {
        logger.error({ signal }, 'second signal while stopping; exiting now');
        exit(signalExitCode(signal));
      }
      logger.info({ signal }, 'stopping');
      shutdown(EXIT.ok);
    },
    { repeatGraceMs: options.repeatGraceMs },
  );
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection; stopping');
    shutdown(EXIT.failed);
  });
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; stopping');
    shutdown(EXIT.failed);
  });

  return new Promise<void>((resolve) => {
    service.start().then(
      () => {
        service.ended?.then(
          (why) => {
            if (stopping) return;
            logger.error({ why }, 'the service ended on its own; stopping');
            shutdown(EXIT.failed);
          },
          (err: unknown) => {
            if (stopping) return;
            logger.error({ err }, 'the service failed; stopping');
            shutdown(EXIT.failed);
          },
        );
        if (!stopping) resolve();
      },
      (err: unknown) => {
        // A start cut short by a signal is the stop's business, not a failure of its own.
        if (stopping) return;
        logger.fatal({ err }, 'start failed');
        shutdown(EXIT.failed);
      },
    );
  });
}
