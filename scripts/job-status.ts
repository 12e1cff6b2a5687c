#!/usr/bin/env tsx
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { argv, chalk } from 'zx';
/**
 * job:status — every job that job:submit started, with Spark's progress of its recent micro-batches: input and
 * processed rows/s, batch duration (last, p50, max), Kafka offsets behind the latest, and how long ago the last
 * batch ran. Reads the progress the runner appends to its run directory (one StreamingQueryProgress per line).
 *
 *   npm run job:status            # table
 *   npm run job:status -- --json  # machine-readable
 */
import { ConfigError } from '../common/env.ts';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { percentile } from '../jobs/spark-sql/control/percentile.ts';
import {
  isAlive,
  offsetsBehind,
  readMeta,
  readProgress,
  readStatus,
  runPaths,
} from '../jobs/spark-sql/control/run-dir.ts';

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toFixed(digits));

async function main(): Promise<void> {
  const config = loadJobsConfig();
  const names = await readdir(path.join(config.stateDir, 'runs')).catch(() => [] as string[]);
  const rows = [];
  for (const name of names.sort()) {
    const paths = runPaths(config, name);
    const [meta, status, progress] = await Promise.all([
      readMeta(paths),
      readStatus(paths),
      readProgress(paths, 30),
    ]);
    if (!meta) continue;
    const alive = isAlive(meta.launcherPid);
    const last = progress.at(-1);
    const durations = progress.map((p) => p.batchDuration ?? p.durationMs?.triggerExecution ?? 0);
    rows.push({
      job: name,
      state: alive
        ? (status?.state ?? 'starting')
        : status?.state === 'running'
          ? 'dead'
          : (status?.state ?? 'dead'),
      pid: meta.launcherPid,
      driverJobs: meta.driverJobs,
      source: meta.source,
      sink: meta.sink,
      checkpoint: meta.checkpoint,
      batch: last?.batchId,
      inputRowsPerSec: last?.inputRowsPerSecond,
      processedRowsPerSec: last?.processedRowsPerSecond,
      batchMs: durations.at(-1),
      batchMsP50: percentile(durations, 50),
      batchMsMax: durations.length > 0 ? Math.max(...durations) : undefined,
      offsetsBehind: last ? offsetsBehind(last) : undefined,
      lastBatchAgoSec: last ? (Date.now() - Date.parse(last.timestamp)) / 1000 : undefined,
      error: status?.error?.split('\n')[0],
    });
  }
  if (argv.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  if (rows.length === 0) {
    console.log(`no jobs submitted (state in ${config.stateDir})`);
    return;
  }
  for (const r of rows) {
    const colour = r.state === 'running' ? chalk.green : r.state === 'stopped' ? chalk.gray : chalk.red;
    const shared = r.driverJobs && r.driverJobs.length > 1 ? ` (one driver: ${r.driverJobs.join(', ')})` : '';
    console.log(`${chalk.bold(r.job)} ${colour(r.state)} pid ${r.pid}${shared}  ${r.source} → ${r.sink}`);
    console.log(`  checkpoint ${r.checkpoint}`);
    console.log(
      `  batch ${fmt(r.batch)}  input ${fmt(r.inputRowsPerSec)} rows/s  processed ${fmt(r.processedRowsPerSec)} rows/s  ` +
        `duration ${fmt(r.batchMs)} ms (p50 ${fmt(r.batchMsP50)}, max ${fmt(r.batchMsMax)} of last 30)  ` +
        `offsets behind ${fmt(r.offsetsBehind)}  last batch ${fmt(r.lastBatchAgoSec, 1)} s ago`,
    );
    if (r.error) console.log(chalk.red(`  error: ${r.error}`));
  }
}

main().catch((err: unknown) => {
  console.error(
    chalk.red(
      err instanceof JobError || err instanceof ConfigError
        ? err.message
        : String((err as Error).stack ?? err),
    ),
  );
  process.exit(1);
});
