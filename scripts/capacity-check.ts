#!/usr/bin/env tsx
/**
 * `npm run capacity:check -- --rate 2000 --viewers 200 --matches 4 [--duration 30] [--label name]
 *  [--reports reports] [--data-dir dir] [--ingest-mode batch|single]`
 *
 * Checks the capacity model (infra/capacity/model.ts) against a running stack: `npm start -- --profile cluster
 * --jobs emoji-swarm` (the benchmarks behind the model run the swarm job alone), or the light profile. It runs
 * `npm run load` at the given load and meters, from /proc, the CPU of each tier the model sizes: the ingest
 * replicas, the Spark driver with the workers and their executors, the subscriber nodes (each service's whole
 * process tree, found through the supervisor's `/status`). Then it prints, per tier, the model's per-core figure
 * (from its benchmark report) beside the one this run measured over the CPU each tier used above its idle rate
 * (metered for `--idle` seconds first: the model's figures are what load adds), and whether they agree within 25 %; and the
 * model's verdict on the load (the cores its three tiers need at headroom 1 against the machine's cores) beside
 * what happened (every reaction accepted at the rate and seen by viewers). Writes reports/capacity-check-<label>.json.
 *
 * Spark's rows are read from the jobs' progress (`<data dir>/spark-jobs-cluster` or `spark-jobs`, the one whose
 * job is running): every query's input rows in the load's window, so a second job's rows count too (and its CPU).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { argv, chalk } from 'zx';
import { DEFAULT_ASSUMPTIONS, type Measured } from '../infra/capacity/model.ts';
import { type IngestMode, ReportError, readMeasured } from '../infra/capacity/reports.ts';
import { dataDirFrom } from '../infra/local/data-dir.ts';
import { defaultPipelinePorts } from '../infra/local/pipeline-services.ts';
import { processTreeMembers } from '../infra/local/process-cpu.ts';
import { DEFAULT_STATUS_PORT, type ServiceStatus } from '../infra/local/supervision-status.ts';
import { repoRoot } from '../infra/local/versions.ts';
import { intervalMs, loadJob } from '../jobs/spark-sql/control/job-plan.ts';
import type { StreamingProgress } from '../jobs/spark-sql/control/run-dir.ts';
import { fail, intOption } from './cli-options.ts';

const rate = intOption('rate', 2000, 1, 1_000_000);
const viewers = intOption('viewers', 200, 1, 100_000);
const matches = intOption('matches', 4, 1, 10_000);
const duration = intOption('duration', 30, 5, 3600);
const label = String(argv.label ?? `r${rate}-v${viewers}`);
const reportsDir = String(argv.reports ?? 'reports');
const dataDir = dataDirFrom(argv);
// `npm run load` posts batches (500 reactions a request): the model's ingest figure of the batch endpoint fits it.
const ingestMode = String(argv['ingest-mode'] ?? 'batch');
if (ingestMode !== 'single' && ingestMode !== 'batch') fail('--ingest-mode is single or batch');
const statusUrl = `http://127.0.0.1:${Number(argv['status-port'] ?? DEFAULT_STATUS_PORT)}/status`;
/** The model's figure and the measured one agree when their ratio is within this share. */
const AGREEMENT = 0.25;

/** The tiers the model sizes by CPU, and the services of each (by name) on either profile. */
const TIERS = {
  ingest: (n: string) => n === 'ingest' || /^ingest-\d+$/.test(n),
  spark: (n: string) => n.startsWith('spark-job') || /^spark-(worker-\d+|master)$/.test(n),
  nodes: (n: string) => n.startsWith('node-'),
} as const;
type Tier = keyof typeof TIERS;

async function services(): Promise<ServiceStatus[]> {
  try {
    const res = await fetch(statusUrl, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return ((await res.json()) as { services: ServiceStatus[] }).services;
  } catch (err) {
    return fail(
      `no stack answers on ${statusUrl} (${(err as Error).message}): start one first, e.g. ` +
        '`npm start -- --profile cluster --jobs emoji-swarm`',
    );
  }
}

/** CPU seconds so far of every process of each tier (each service's whole tree: Spark workers' executors too). */
function tierCpu(list: ServiceStatus[]): Record<Tier, number> {
  const out = { ingest: 0, spark: 0, nodes: 0 };
  for (const s of list) {
    for (const [tier, match] of Object.entries(TIERS) as [Tier, (n: string) => boolean][]) {
      if (match(s.name)) out[tier] += processTreeMembers(s.pgid).reduce((n, m) => n + m.cpuSeconds, 0);
    }
  }
  return out;
}

/** The Spark state dir whose jobs run now: the cluster profile's or the light one's. */
function sparkRuns(): string[] {
  const candidates = ['spark-jobs-cluster', 'spark-jobs'].map((d) => path.join(dataDir, d, 'runs'));
  for (const runs of candidates) {
    if (!existsSync(runs)) continue;
    const running = readdirSync(runs)
      .map((job) => path.join(runs, job))
      .filter((dir) => {
        try {
          return JSON.parse(readFileSync(path.join(dir, 'status.json'), 'utf8')).state === 'running';
        } catch {
          return false;
        }
      });
    if (running.length > 0) return running;
  }
  return fail(`no running Spark job under ${dataDir} (spark-jobs-cluster/ or spark-jobs/): is the stack up?`);
}

/** Input rows of every query whose micro-batch started within [from, to] (epoch ms). */
function sparkRows(runDirs: string[], from: number, to: number): { rows: number; jobs: string[] } {
  let rows = 0;
  for (const dir of runDirs) {
    const text = existsSync(path.join(dir, 'progress.jsonl'))
      ? readFileSync(path.join(dir, 'progress.jsonl'), 'utf8')
      : '';
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const p = JSON.parse(line) as StreamingProgress;
      const at = Date.parse(p.timestamp);
      if (at >= from && at <= to) rows += p.numInputRows;
    }
  }
  return { rows, jobs: runDirs.map((d) => path.basename(d)) };
}

/** Runs `npm run load` with this load; resolves with its JSON report. */
function runLoad(): Promise<LoadReport> {
  const args = ['run', 'load', '--', '--rate', String(rate), '--viewers', String(viewers), '--matches'];
  args.push(String(matches), '--duration', String(duration), '--label', `capacity-${label}`);
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const file = /report (\S+\.json)/.exec(out)?.[1];
      if (code !== 0 || !file) return reject(new Error(`npm run load exited ${code} without a report`));
      resolve(JSON.parse(readFileSync(path.resolve(repoRoot, file), 'utf8')) as LoadReport);
    });
  });
}

interface LoadReport {
  reactions: { offered: number; accepted: number; rejected: number; accepted_per_s: number };
  latency_ms: { p50: number; p99: number; not_seen_after_drain: number; count: number };
  deliveries: { total: number; per_s: number };
  viewers: { connected: number };
}

let measured: Measured;
try {
  measured = readMeasured(reportsDir, ingestMode as IngestMode);
} catch (err) {
  if (err instanceof ReportError) fail(err.message);
  throw err;
}
const model = {
  ingest: measured.ingestReactionsPerReplica.value / measured.ingestCoresPerReplica.value,
  spark: measured.sparkRowsPerCore.value,
  nodes: measured.nodeCpuMsPerViewerBroadcast.value,
};
const nodeFixedMs = measured.nodeCpuMsPerBroadcast.value;

/** Room broadcasts the subscriber nodes made so far (their `fanout_messages_out_total{kind="swarm"}`). */
async function nodeBroadcasts(): Promise<number> {
  let total = 0;
  for (const port of defaultPipelinePorts().nodes.flat()) {
    const text = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(3000) })
      .then((r) => r.text())
      .catch(() => '');
    const line = text
      .split('\n')
      .find((l) => l.startsWith('fanout_messages_out_total{') && l.includes('kind="swarm"'));
    total += Number(line?.split(' ').at(-1) ?? 0);
  }
  return total;
}
const broadcastsPerViewerPerSecond = 1000 / intervalMs((await loadJob('emoji-swarm')).spec.trigger);

const list = await services();
const runDirs = sparkRuns();
const missing = (Object.keys(TIERS) as Tier[]).filter((t) => !list.some((s) => TIERS[t](s.name)));
if (missing.length > 0) fail(`the stack on ${statusUrl} has no ${missing.join(', ')} service`);

// The model's verdict before the run: cores its three tiers need at this load (headroom 1) against the machine's.
const needCores = {
  ingest: rate / model.ingest,
  spark: rate / model.spark,
  // Each node's rooms (at most every match) once per trigger, and every viewer once per trigger.
  nodes:
    (broadcastsPerViewerPerSecond *
      (viewers * model.nodes + matches * defaultPipelinePorts().nodes.flat().length * nodeFixedMs)) /
    1000,
};
const modelCores = needCores.ingest + needCores.spark + needCores.nodes;
const machineCores = cpus().length;
const modelSays = modelCores <= machineCores * DEFAULT_ASSUMPTIONS.headroom ? 'carries' : 'does not carry';
console.error(
  chalk.bold(
    `model: ${rate} reactions/s and ${viewers} viewers need ${modelCores.toFixed(2)} cores of ingest, Spark and ` +
      `nodes; this machine has ${machineCores} (${DEFAULT_ASSUMPTIONS.headroom} headroom): it ${modelSays} this load`,
  ),
);

// What each tier burns with no load (heartbeats, empty micro-batches, Kafka polls): the model's figures are what a
// unit of load adds, so the run's figures are taken over the CPU above this.
const IDLE_SECONDS = intOption('idle', 15, 5, 600);
console.error(`metering the idle stack for ${IDLE_SECONDS} s …`);
const idle0 = tierCpu(list);
await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
const idle1 = tierCpu(list);
const idleCores = {
  ingest: (idle1.ingest - idle0.ingest) / IDLE_SECONDS,
  spark: (idle1.spark - idle0.spark) / IDLE_SECONDS,
  nodes: (idle1.nodes - idle0.nodes) / IDLE_SECONDS,
};

const cpu0 = tierCpu(list);
const broadcasts0 = await nodeBroadcasts();
const t0 = Date.now();
const load = await runLoad();
const t1 = Date.now();
const cpu1 = tierCpu(list);
const broadcasts = (await nodeBroadcasts()) - broadcasts0;
const used = {
  ingest: cpu1.ingest - cpu0.ingest,
  spark: cpu1.spark - cpu0.spark,
  nodes: cpu1.nodes - cpu0.nodes,
};
const wall = (t1 - t0) / 1000;
const spark = sparkRows(runDirs, t0, t1);
/** CPU seconds a tier spent on the load: what it used above its idle rate. */
const above = (tier: Tier) => Math.max(1e-3, used[tier] - idleCores[tier] * wall);

const deliveries = Math.max(1, load.deliveries.total);
const measuredFigures = {
  ingest: load.reactions.accepted / above('ingest'),
  spark: spark.rows / above('spark'),
  nodes: (above('nodes') * 1000) / deliveries,
};
// The model's node CPU for this run: a fixed part per room broadcast, a part per viewer reached (reports.ts).
const nodeModelMs = (broadcasts * nodeFixedMs + deliveries * model.nodes) / deliveries;
const rows = [
  {
    figure: 'ingest reactions/s per core',
    model: model.ingest,
    source: measured.ingestReactionsPerReplica.source,
    measured: measuredFigures.ingest,
    how: `${load.reactions.accepted} accepted over ${above('ingest').toFixed(1)} CPU s of the ingest replicas above idle`,
  },
  {
    figure: 'Spark rows/s per core',
    model: model.spark,
    source: measured.sparkRowsPerCore.source,
    measured: measuredFigures.spark,
    how: `${spark.rows} input rows (${spark.jobs.join(', ')}) over ${above('spark').toFixed(1)} CPU s of the driver, workers and executors above idle`,
  },
  {
    figure: 'node CPU ms per viewer per broadcast',
    model: nodeModelMs,
    source: measured.nodeCpuMsPerViewerBroadcast.source,
    measured: measuredFigures.nodes,
    how:
      `${(above('nodes') * 1000).toFixed(0)} CPU ms of the nodes above idle over ${load.deliveries.total} deliveries ` +
      `in ${broadcasts} room broadcasts; model ${model.nodes.toFixed(4)} ms per viewer + ${nodeFixedMs.toFixed(1)} ms per broadcast`,
  },
].map((r) => {
  const ratio = r.measured / r.model;
  return { ...r, ratio, within: Math.abs(ratio - 1) <= AGREEMENT };
});

const keptUp =
  load.reactions.accepted >= 0.95 * rate * duration &&
  load.latency_ms.not_seen_after_drain === 0 &&
  load.reactions.rejected === 0;
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(3));
console.log(
  `\ncapacity check ${label}: ${rate} reactions/s × ${duration} s, ${viewers} viewers, ${matches} matches (${wall.toFixed(0)} s)\n`,
);
console.log('| figure | model (report, date) | this run | run ÷ model | within 25 % |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  const src = 'report' in r.source ? `${r.source.report}, ${r.source.at}` : 'assumed';
  console.log(
    `| ${r.figure} | ${fmt(r.model)} (${src}) | ${fmt(r.measured)} | ${r.ratio.toFixed(2)} | ${r.within ? 'yes' : 'no'} |`,
  );
}
for (const r of rows) console.log(`- ${r.figure}: ${r.how}`);
console.log(
  `\nmodel: needs ${modelCores.toFixed(2)} cores (ingest ${needCores.ingest.toFixed(2)}, Spark ${needCores.spark.toFixed(2)}, ` +
    `nodes ${needCores.nodes.toFixed(2)}) of ${machineCores}: ${modelSays} it. ` +
    `Measured: ${load.reactions.accepted} of ${rate * duration} accepted (${load.reactions.accepted_per_s}/s), ` +
    `${load.reactions.rejected} rejected, ${load.latency_ms.not_seen_after_drain} not seen, e2e p50/p99 ` +
    `${load.latency_ms.p50}/${load.latency_ms.p99} ms; tiers used ingest ${(used.ingest / wall).toFixed(2)}, ` +
    `Spark ${(used.spark / wall).toFixed(2)}, nodes ${(used.nodes / wall).toFixed(2)} cores (idle: ingest ` +
    `${idleCores.ingest.toFixed(2)}, Spark ${idleCores.spark.toFixed(2)}, nodes ${idleCores.nodes.toFixed(2)}): ` +
    (keptUp ? chalk.green('kept up') : chalk.red('did not keep up')),
);
mkdirSync(reportsDir, { recursive: true });
const file = path.join(reportsDir, `capacity-check-${label}.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      kind: 'emostream-capacity-check',
      at: new Date().toISOString(),
      load: { rate, viewers, matches, duration },
      figures: rows,
      model: { cores: modelCores, byTier: needCores, machineCores, verdict: modelSays },
      run: { keptUp, wallSeconds: wall, cpuSecondsByTier: used, idleCores, spark, load },
    },
    null,
    2,
  )}\n`,
);
console.log(`report ${file}`);
