import path from 'node:path';
import { chalk } from 'zx';
import { clientSecurityEnv } from '../../common/client-security.ts';
import { ConfigError } from '../../common/env.ts';
import { onStopSignals } from '../../common/service.ts';
import {
  assertJobsRunOn,
  ENGINES,
  type Engine,
  isEngine,
  loadJobsList,
} from '../../jobs/spark-sql/control/job-plan.ts';
import { cacheDir } from './cache-dir.ts';
import { dataDirReport, describeWipe, wipeDataDir } from './data-dir.ts';
import { PortInUseError, RuntimeError } from './errors.ts';
import { clientSecurityOf } from './kafka-security.ts';
import { DEFAULT_PORTS, type StackAddresses, type StackOptions, startStack } from './local-stack.ts';
import { assertPortFree } from './ports.ts';
import type { Runtime } from './provisioner.ts';
import {
  DEFAULT_STATUS_PORT,
  STATUS_SERVICE,
  type StatusServer,
  startStatusServer,
} from './supervision-status.ts';
import {
  DEFAULT_RESTART_POLICY,
  describeExit,
  type RestartEvent,
  type RunningService,
  type ServiceSpec,
} from './supervisor.ts';

/** What a child service of `npm start` gets to build its spec. */
export interface ServiceContext extends StackAddresses {
  runtime: Runtime;
  runDir: string;
}

/**
 * A child service of `npm start`: returns its spec (or several, started in list order, e.g. a profile's replicas),
 * or a reason it is skipped (e.g. its entry file is missing).
 */
export type ServiceFactory = (ctx: ServiceContext) => ServiceSpec | ServiceSpec[] | { skip: string };

function portOption(name: string, value: unknown, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new RuntimeError(`${name} must be a port number between 1 and 65535, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Ports from flags (`--kafka-port`) over environment (`KAFKA_PORT`) over the defaults. */
export function portsFrom(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): { kafka: number; kafkaController: number; registry: number; ingest: number } {
  return {
    kafka: portOption('--kafka-port', flags['kafka-port'] ?? env.KAFKA_PORT, DEFAULT_PORTS.kafka),
    kafkaController: portOption(
      '--controller-port',
      flags['controller-port'] ?? env.KAFKA_CONTROLLER_PORT,
      DEFAULT_PORTS.kafkaController,
    ),
    registry: portOption(
      '--registry-port',
      flags['registry-port'] ?? env.SCHEMA_REGISTRY_PORT,
      DEFAULT_PORTS.registry,
    ),
    ingest: portOption('--ingest-port', flags['ingest-port'] ?? env.INGEST_PORT, DEFAULT_PORTS.ingest),
  };
}

/** `--status-port` over `EMOSTREAM_STATUS_PORT` over 8089; 0 picks a free port. */
export function statusPortFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): number {
  const value = flags['status-port'] ?? env.EMOSTREAM_STATUS_PORT;
  if (value === undefined || value === '') return DEFAULT_STATUS_PORT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new RuntimeError(
      `--status-port must be a port number between 0 (a free one) and 65535, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/**
 * `--secure` (or `--secure=false`) over `EMOSTREAM_SECURE` (`1`/`true` or `0`/`false`): run the stack secured
 * (local-stack.ts `secure`). @default false
 */
export function secureFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): boolean {
  const flag = flags.secure;
  if (typeof flag === 'boolean') return flag;
  const value = flag ?? env.EMOSTREAM_SECURE;
  if (value === undefined || value === '') return false;
  const v = String(value).toLowerCase();
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  throw new RuntimeError(
    `--secure/EMOSTREAM_SECURE must be 1, true, 0 or false, got ${JSON.stringify(value)}`,
  );
}

/** Which jobs run, on which engine: `--engine`/`--jobs` of `npm start` and the chaos suite. */
export interface JobSelection {
  /** Every job on this engine (each must list it in its yml). @default each job's own default */
  engine?: Engine;
  /** These jobs of jobs/spark-sql/jobs.yml only. @default all of them */
  jobs?: string[];
}

/**
 * `--engine` over `EMOSTREAM_ENGINE` (spark, flink) and `--jobs a,b` over `EMOSTREAM_JOBS` (a subset of
 * jobs/spark-sql/jobs.yml); checked at once, so a job that lacks the engine is named before anything starts.
 */
export function jobSelectionFrom(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
  /** The jobs run when `--jobs` is absent. @default every job of jobs.yml */
  defaultJobs?: readonly string[],
): JobSelection {
  const engine = flags.engine ?? env.EMOSTREAM_ENGINE;
  const jobsFlag = flags.jobs ?? env.EMOSTREAM_JOBS;
  const selection: JobSelection = {};
  if (engine !== undefined && engine !== '') {
    if (typeof engine !== 'string' || !isEngine(engine))
      throw new RuntimeError(`--engine must be one of ${ENGINES.join(', ')}, got ${JSON.stringify(engine)}`);
    selection.engine = engine;
  }
  const listed = loadJobsList();
  if (jobsFlag !== undefined && jobsFlag !== '') {
    const jobs = String(jobsFlag)
      .split(',')
      .map((j) => j.trim())
      .filter(Boolean);
    const unknown = jobs.filter((j) => !listed.includes(j));
    if (jobs.length === 0 || unknown.length > 0)
      throw new RuntimeError(
        `--jobs must name jobs of jobs/spark-sql/jobs.yml (${listed.join(', ')}), got ${JSON.stringify(jobsFlag)}`,
      );
    selection.jobs = jobs;
  }
  if (selection.engine) {
    try {
      assertJobsRunOn(selection.jobs ?? defaultJobs ?? listed, selection.engine);
    } catch (error) {
      throw new RuntimeError((error as Error).message, { cause: error });
    }
  }
  return selection;
}

/** The one line `npm start` prints per restart. */
export function restartLine(event: RestartEvent): string {
  return (
    `restart: ${event.service} exited (${describeExit(event.exit)}); attempt ${event.attempt}, ` +
    `starting again in ${(event.delayMs / 1000).toFixed(1)} s\n`
  );
}

export interface ForegroundOptions extends Omit<StackOptions, 'extraServices'> {
  services?: ServiceFactory[];
  /**
   * Port of the supervisor's `/status` and `/metrics` (supervision-status.ts); 0 picks a free one.
   * @default DEFAULT_STATUS_PORT
   */
  statusPort?: number;
  /** Called once every service is ready and the address block is printed (e.g. to print hints or start a demo). */
  onUp?: () => void;
  /** Wipe {@link StackOptions.dataDir} first, printing what is deleted (`--fresh`). */
  fresh?: boolean;
}

/** Before the stack starts: `--fresh` wipes the data dir; then its place, size, and a warning when disk is low. */
function announceDataDir(dataDir: string, fresh: boolean): void {
  if (fresh) process.stdout.write(`${describeWipe(wipeDataDir(dataDir)).join('\n')}\n`);
  const { info, warning } = dataDirReport(dataDir);
  process.stdout.write(`${info}\n`);
  if (warning) process.stderr.write(chalk.yellow(`warning: ${warning}\n`));
}

/** `--run-dir` over `EMOSTREAM_RUN_DIR` over `<cache>/run`. */
export function runDirFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const given = flags['run-dir'] ?? env.EMOSTREAM_RUN_DIR;
  return typeof given === 'string' && given ? path.resolve(given) : path.join(cacheDir(), 'run');
}

/**
 * Runs the stack (plus `services`) in the foreground until SIGINT/SIGTERM or until a service dies, then stops
 * everything in reverse order. Run dir: `options.runDir` or `<cache>/run`; logs stay there after exit.
 * Returns the exit code.
 */
export async function runForeground(options: ForegroundOptions): Promise<number> {
  const runDir = options.runDir ?? path.join(cacheDir(), 'run');
  const host = options.host ?? '127.0.0.1';
  const statusPort = options.statusPort ?? DEFAULT_STATUS_PORT;
  // Before anything starts, so a taken port fails in a second rather than after Kafka and Spark are up.
  if (statusPort) await assertPortFree(STATUS_SERVICE, host, statusPort);
  if (options.dataDir) announceDataDir(options.dataDir, options.fresh ?? false);
  const skipped: string[] = [];
  const stack = await startStack({
    restart: DEFAULT_RESTART_POLICY,
    ...options,
    runDir,
    extraServices: (ctx) =>
      (options.services ?? []).flatMap((factory) => {
        const spec = factory(ctx);
        if (Array.isArray(spec)) return spec;
        if ('skip' in spec) {
          skipped.push(spec.skip);
          return [];
        }
        return [spec];
      }),
  });
  // Child handles are unref'd so test runners can exit; a foreground runner must stay up on its own.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const watch = (s: RunningService) => {
    s.events.on('restart', (event) => process.stderr.write(restartLine(event)));
    s.events.on('ready', () =>
      process.stderr.write(`restart: ${s.name} is ready again (restarts: ${s.restarts})\n`),
    );
  };
  for (const s of stack.services) watch(s);
  let status: StatusServer;
  try {
    status = await startStatusServer(stack.services, { host, port: statusPort });
  } catch (error) {
    await stack.stop();
    clearInterval(keepAlive);
    throw error;
  }

  // The signal rule of every main (common/service.ts), in place before the address block is printed: whoever reads
  // it (a person, a test) may signal at once. Not runMain itself: this runner reports to a person, hands
  // its exit code back to its CLI, and on a second signal must SIGKILL its children's process groups.
  const stopped = new Promise<string>((resolve) => {
    onStopSignals((signal, repeat) => {
      if (!repeat) return resolve(signal);
      process.stderr.write('second signal: killing everything now\n');
      for (const s of stack.services) {
        try {
          process.kill(-s.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      process.exit(130);
    });
    void stack.firstExit.then(({ service, code, failure }) => {
      if (failure) process.stderr.write(`\n${failure.name}: ${failure.message}\n`);
      resolve(failure ? `${service} is in a crash loop` : `${service} exited with ${code}`);
    });
  });
  const lines = [
    '',
    'EmoStream local stack is up:',
    `  KAFKA_BROKERS=${stack.kafkaBrokers}`,
    `  SCHEMA_REGISTRY_URL=${stack.registryUrl}`,
    // A secured stack: what a client sets to connect as the runtime's admin user (every variable is a file path or
    // a name; the passwords stay in their files).
    ...(stack.security
      ? Object.entries(clientSecurityEnv(clientSecurityOf(stack.security, 'admin'))).map(
          ([k, v]) => `  ${k}=${v}`,
        )
      : []),
    ...stack.services.flatMap((s) =>
      Object.entries(s.addresses).map(([k, v]) => `  ${s.name} ${k}: ${v}    (log: ${s.logFile})`),
    ),
    ...skipped.map((s) => `  (skipped: ${s})`),
    `  supervisor: ${status.url}/status, ${status.url}/metrics (a service that exits is restarted)`,
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  options.onUp?.();

  const reason = await stopped;
  process.stderr.write(`\nstopping (${reason})…\n`);
  const started = Date.now();
  await stack.stop();
  await status.close();
  clearInterval(keepAlive);
  process.stderr.write(
    `stopped in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${runDir}/logs\n`,
  );
  return reason === 'SIGINT' || reason === 'SIGTERM' ? 0 : 1;
}

/** Prints a runtime error as its message alone (they are written to be read), anything else with its stack. */
export function reportFailure(error: unknown): number {
  if (error instanceof PortInUseError) {
    process.stderr.write(
      `\n${error.name}: ${error.message}\nPorts: --kafka-port/KAFKA_PORT, --controller-port/KAFKA_CONTROLLER_PORT, ` +
        '--registry-port/SCHEMA_REGISTRY_PORT, --ingest-port/INGEST_PORT.\n',
    );
  } else if (error instanceof RuntimeError || error instanceof ConfigError)
    process.stderr.write(`\n${error.name}: ${error.message}\n`);
  else process.stderr.write(`\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return 1;
}
