#!/usr/bin/env tsx
/**
 * `npm run capacity -- --viewers 50000000 --reactions-per-s 1000000 --matches 100 [--reports reports]
 *  [--ingest-mode single|batch] [--headroom 0.6] [--json]`
 *
 * What a load needs of each tier (ingest replicas, partitions, Kafka brokers, Spark executor cores, subscriber
 * nodes, cluster publishers), from the latest benchmark reports under `--reports` (bench:ingest, bench:spark,
 * bench:fanout) and the model's stated assumptions (infra/capacity/model.ts). Each figure is printed with its
 * source report and date. Writes reports/capacity.json. Exit 2 on bad flags or a missing report (with the command
 * that writes it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argv, chalk } from 'zx';
import {
  ASSUMPTION_NOTES,
  DEFAULT_ASSUMPTIONS,
  type Need,
  plan,
  type Source,
} from '../infra/capacity/model.ts';
import { type IngestMode, ReportError, readMeasured } from '../infra/capacity/reports.ts';
import { intervalMs, loadJob } from '../jobs/spark-sql/control/job-plan.ts';
import { fail, intOption } from './cli-options.ts';

if (argv.help) {
  console.log(
    'npm run capacity -- --viewers N --reactions-per-s R --matches M [--reports dir] [--ingest-mode single|batch] [--headroom 0.6] [--json]',
  );
  process.exit(0);
}
const viewers = intOption('viewers', 50_000_000, 1, 10_000_000_000);
const reactionsPerSecond = intOption('reactions-per-s', 1_000_000, 1, 1_000_000_000);
const matches = intOption('matches', 100, 1, 1_000_000);
const reportsDir = String(argv.reports ?? 'reports');
const ingestMode = String(argv['ingest-mode'] ?? 'single');
if (ingestMode !== 'single' && ingestMode !== 'batch') fail('--ingest-mode is single or batch');
const headroom = Number(argv.headroom ?? DEFAULT_ASSUMPTIONS.headroom);
if (!(headroom > 0 && headroom <= 1)) fail('--headroom must be in (0, 1]');

let measured: ReturnType<typeof readMeasured>;
try {
  measured = readMeasured(reportsDir, ingestMode as IngestMode);
} catch (err) {
  if (err instanceof ReportError) fail(err.message);
  throw err;
}
const load = { viewers, reactionsPerSecond, matches };
// Every viewer of a match gets one swarm message per trigger of the swarm job: the job file says how often.
const broadcastsPerViewerPerSecond = 1000 / intervalMs((await loadJob('emoji-swarm')).spec.trigger);
const needs = plan(load, measured, { ...DEFAULT_ASSUMPTIONS, headroom, broadcastsPerViewerPerSecond });

const describe = (s: Source) =>
  'report' in s ? `${s.report} (${s.at}): ${s.detail}` : `assumed: ${s.assumption}`;

if (argv.json) {
  console.log(JSON.stringify({ load, measured, needs }, null, 2));
} else {
  console.log(
    chalk.bold(
      `Capacity for ${viewers.toLocaleString('en')} viewers, ${reactionsPerSecond.toLocaleString('en')} reactions/s, ${matches} matches`,
    ),
  );
  console.log();
  const rows = needs.map((n: Need) => [n.tier, n.count.toLocaleString('en'), n.unit]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  for (const [i, n] of needs.entries()) {
    const r = rows[i] as string[];
    console.log(
      `${(r[0] as string).padEnd(widths[0] as number)}  ${chalk.bold((r[1] as string).padStart(widths[1] as number))}  ${r[2]}`,
    );
    console.log(chalk.dim(`    = ${n.because}`));
  }
  console.log();
  console.log(chalk.bold('Measured figures'));
  for (const [name, f] of Object.entries(measured)) {
    const value = Number.isFinite(f.value)
      ? Number(f.value.toPrecision(4)).toLocaleString('en')
      : 'not reached';
    console.log(`  ${name.padEnd(28)} ${value.padStart(10)}   ${describe(f.source)}`);
  }
  console.log();
  console.log(chalk.bold('Assumptions') + chalk.dim(' (infra/capacity/model.ts)'));
  for (const key of Object.keys(ASSUMPTION_NOTES) as (keyof typeof ASSUMPTION_NOTES)[])
    console.log(`  ${key.padEnd(28)} ${ASSUMPTION_NOTES[key]}`);
}
mkdirSync(reportsDir, { recursive: true });
const out = path.join(reportsDir, 'capacity.json');
writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), load, measured, needs }, null, 2)}\n`);
if (!argv.json) console.log(chalk.dim(`\nreport: ${out}`));
