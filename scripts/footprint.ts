#!/usr/bin/env tsx
/**
 * `npm run footprint [-- --settle S] [--timeout S] [-- <npm start flags>]` — the memory footprint of the local stack.
 *
 * Starts `npm start` itself (so the start-to-ready time is measured from the same moment every run, and nothing is
 * left running after): spawned in a process group of its own, it counts as ready once the supervisor's `/status`
 * (supervision-status.ts, served only after every service passed its readiness probe) lists every service `ready`.
 * After `--settle` seconds (default 20: the Spark jobs run their first batches, the JVMs grow to their working size)
 * it reads, per service, the members of its process group and their descendants (a Spark launcher starts
 * spark-submit in a group of its own) and their resident memory (infra/local/process-cpu.ts), and the same for the
 * supervisor's own group (npm and the runner), then stops the stack as a terminal's Ctrl-C
 * would (SIGINT to the group) and waits until every group is gone.
 *
 * Prints a table and writes reports/footprint.json. "Warm" means provisioned and with an existing data dir: run it
 * after one `npm start` (or `npm run provision`). A stack already answering on the status port is refused: its ports
 * are the ones this run needs. Extra arguments after `--` go to `npm start` (e.g. `-- --jobs emoji-swarm`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { argv, chalk } from 'zx';
import { processGroupMembers, processRssBytes, processTreeMembers } from '../infra/local/process-cpu.ts';
import { DEFAULT_STATUS_PORT, type ServiceStatus } from '../infra/local/supervision-status.ts';
import { isAlive } from '../infra/local/supervisor.ts';
import { repoRoot } from '../infra/local/versions.ts';
import { fail, intOption } from './cli-options.ts';

const REPORT = 'reports/footprint.json';
const settleS = intOption('settle', 20, 0, 600);
const timeoutS = intOption('timeout', 300, 10, 1800);
const statusUrl = `http://127.0.0.1:${DEFAULT_STATUS_PORT}/status`;
const startArgs = argv._.map(String);

/** One row of the report: a service's process group, or the supervisor's. */
interface GroupFootprint {
  name: string;
  pgid: number;
  processes: number;
  rssBytes: number;
  /** Executable names of the members (`java`, `node`, `python3`), for reading the table. */
  comms: string[];
}

async function statusOrUndefined(): Promise<ServiceStatus[] | undefined> {
  try {
    const res = await fetch(statusUrl, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { services: ServiceStatus[] }).services;
  } catch {
    return undefined;
  }
}

/**
 * A service's process group and everything its members started, in whatever group (the Spark launcher's JVM); for
 * the supervisor (`tree` false) its group alone, as every service descends from it.
 */
function footprintOf(name: string, pgid: number, tree = true): GroupFootprint {
  const members = tree ? processTreeMembers(pgid) : processGroupMembers(pgid);
  return {
    name,
    pgid,
    processes: members.length,
    rssBytes: members.reduce((n, m) => n + processRssBytes(m.pid), 0),
    comms: members.map((m) => m.comm),
  };
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

async function main(): Promise<void> {
  if (await statusOrUndefined()) fail(`a stack already answers on ${statusUrl}: stop it first`);
  mkdirSync(path.join(repoRoot, 'reports'), { recursive: true });
  const logFile = path.join(tmpdir(), `emostream-footprint-${Date.now()}.log`);
  const log = openSync(logFile, 'a');
  const t0 = performance.now();
  // Its own group, as a terminal's foreground job: the Ctrl-C below reaches npm, tsx and the runner alike.
  const child = spawn('npm', ['start', '--', ...startArgs], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', log, log],
  });
  const npmPgid = child.pid;
  if (npmPgid === undefined) fail('could not spawn npm start');
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  let services: ServiceStatus[] | undefined;
  try {
    console.error(`npm start (log: ${logFile}) …`);
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      services = await statusOrUndefined();
      if (services?.every((s) => s.state === 'ready')) break;
      if (exited) throw new Error(`npm start exited before it was ready; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`not ready after ${timeoutS} s; see ${logFile}`);
      await sleep(250);
    }
    const readySeconds = (performance.now() - t0) / 1000;
    console.error(`ready after ${readySeconds.toFixed(1)} s; settling ${settleS} s …`);
    await sleep(settleS * 1000);
    // The groups as they are now: a service restarted during the settle time has a new one.
    services = (await statusOrUndefined()) ?? services;
    const rows = [
      ...services.map((s) => footprintOf(s.name, s.pgid)),
      footprintOf('supervisor (npm, runner)', npmPgid, false),
    ];
    const total = {
      processes: rows.reduce((n, r) => n + r.processes, 0),
      rssBytes: rows.reduce((n, r) => n + r.rssBytes, 0),
    };
    const report = {
      at: new Date().toISOString(),
      command: ['npm', 'start', ...startArgs].join(' '),
      readySeconds: Number(readySeconds.toFixed(1)),
      settleSeconds: settleS,
      services: rows,
      total,
    };
    writeFileSync(path.join(repoRoot, REPORT), `${JSON.stringify(report, null, 2)}\n`);
    const width = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(width)}  ${String(r.processes).padStart(3)} proc  ${mib(r.rssBytes).padStart(6)} MiB  ${r.comms.join(' ')}`,
      );
    }
    console.log(
      chalk.bold(
        `${'total'.padEnd(width)}  ${String(total.processes).padStart(3)} proc  ${mib(total.rssBytes).padStart(6)} MiB` +
          `  ready after ${readySeconds.toFixed(1)} s`,
      ),
    );
    console.log(`report: ${REPORT}`);
  } finally {
    await stopStack(npmPgid, services ?? [], () => exited);
  }
}

/** Ctrl-C to the stack's group, then waits for it and every service group to be gone (SIGKILL after 120 s). */
async function stopStack(npmPgid: number, services: ServiceStatus[], exited: () => boolean): Promise<void> {
  try {
    process.kill(-npmPgid, 'SIGINT');
  } catch {
    // already gone
  }
  const groups = [npmPgid, ...services.map((s) => s.pgid)];
  const deadline = Date.now() + 120_000;
  while (!exited() || groups.some((g) => isAlive(-g))) {
    if (Date.now() > deadline) {
      console.error(chalk.yellow('the stack did not stop within 120 s: SIGKILL'));
      for (const g of groups) {
        try {
          process.kill(-g, 'SIGKILL');
        } catch {
          // gone
        }
      }
      return;
    }
    await sleep(250);
  }
  console.error('stack stopped');
}

main().catch((error: unknown) => {
  console.error(chalk.red(error instanceof Error ? error.message : String(error)));
  process.exit(1);
});
