#!/usr/bin/env tsx
/**
 * bench:engines — the emoji-swarm job on each engine in turn, on one Kafka + registry, with the same feed: per
 * engine its start-up time, a SIGKILL of the job's JVM under load with the time until output flows again and an
 * exact-count check of every (match, window, emoji), then a ramp of rates (scripts/job-bench.ts `runLiveBench`,
 * as bench:spark's live mode) with output keeping up: probe latency p50/p99 (send → aggregate row read back),
 * cores and resident memory of the job's process group. Prints the side-by-side table and writes
 * reports/bench-engines.json and reports/bench-engines.svg. Not a test; bounded in time (about 4 minutes per
 * engine with the defaults).
 *
 *   npm run bench:engines                                       # both engines, the default rates
 *   npm run bench:engines -- --engines flink --rates 5000,10000,20000,40000 --step-seconds 20
 *   npm run bench:engines -- --recovery-rate 5000 --before-kill 15 --latency-budget 5000
 *   npm run bench:engines -- --redraw                            # the chart again from the last report
 *
 * Sustained: the producer reached the rate, the job's backlog did not grow over the step's second half, every
 * probe of the step's first half came back and the probes' p99 stayed within --latency-budget (default 5 s: the
 * 2 s window, the job's trigger and some slack); on Spark also every micro-batch's p99 within the trigger.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { argv, chalk } from 'zx';
import { ENGINES, type Engine, isEngine, loadJob } from '../jobs/spark-sql/control/job-plan.ts';
import { fail, intOption } from './cli-options.ts';
import { type LiveBenchResult, openBench, runLiveBench } from './job-bench.ts';
import { barChartSvg } from './svg-chart.ts';

const REPORT = 'reports/bench-engines.json';
const CHART = 'reports/bench-engines.svg';

/** One engine's line of the side-by-side table. */
interface EngineRow {
  engine: string;
  'sustained/s': number;
  'cores at it': number;
  'rss MiB at it': number;
  'start-up s': number;
  'first row s': number;
  'latency p50 ms': number;
  'latency p99 ms': number;
  'recovery s': number;
  'exact after kill': string;
}

function rowOf(r: LiveBenchResult): EngineRow {
  const best = r.best;
  const rec = r.recovery;
  const n = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
  return {
    engine: r.engine,
    'sustained/s': r.sustained,
    'cores at it': n(best?.cores),
    'rss MiB at it': n(best?.['rss max MiB']),
    'start-up s': Number((r.startupMs / 1000).toFixed(1)),
    'first row s': Number((r.firstRowMs / 1000).toFixed(1)),
    'latency p50 ms': n(best?.['latency p50 ms']),
    'latency p99 ms': n(best?.['latency p99 ms']),
    'recovery s': rec ? Number((rec.recoveryMs / 1000).toFixed(1)) : Number.NaN,
    'exact after kill': rec
      ? `${rec.exact ? 'yes' : 'NO'} (${rec.keys - rec.under - rec.over - rec.missing}/${rec.keys} keys exact, ${rec.under} under, ${rec.over} over, ${rec.missing} missing, ${rec.extra} extra)`
      : 'not run',
  };
}

function chart(rows: EngineRow[], at: string, fed: readonly number[]): string {
  const panel = (
    title: string,
    yLabel: string,
    key: keyof EngineRow,
    hLines?: { y: number; label: string }[],
  ) => ({
    title,
    yLabel,
    groups: [{ name: '', values: Object.fromEntries(rows.map((r) => [r.engine, Number(r[key]) || 0])) }],
    ...(hLines ? { hLines } : {}),
  });
  return barChartSvg({
    title: `emoji-swarm on each engine, same feed, this machine (${at.slice(0, 10)})`,
    series: rows.map((r) => r.engine),
    columns: 4,
    panels: [
      // An engine at the line may sustain more: the ramp fed no more than that.
      panel('sustained reactions/s', 'reactions/s', 'sustained/s', [
        { y: Math.max(...fed), label: 'highest rate fed' },
      ]),
      panel('cores at that rate', 'cores', 'cores at it'),
      panel('RSS at that rate', 'MiB', 'rss MiB at it'),
      panel('start-up (start → running)', 's', 'start-up s'),
      panel('tap → row p50', 'ms', 'latency p50 ms'),
      panel('tap → row p99', 'ms', 'latency p99 ms'),
      panel('recovery after SIGKILL of the JVM', 's', 'recovery s'),
    ],
  });
}

if (argv.redraw) {
  const last = JSON.parse(readFileSync(REPORT, 'utf8')) as {
    at: string;
    engines: EngineRow[];
    rates: number[];
  };
  writeFileSync(CHART, chart(last.engines, last.at, last.rates));
  console.log(`chart: ${CHART}`);
  process.exit(0);
}

const engines = String(argv.engines ?? ENGINES.join(','))
  .split(',')
  .map((e) => e.trim())
  .filter(Boolean);
if (engines.length === 0 || !engines.every(isEngine)) fail(`--engines: a list of ${ENGINES.join(', ')}`);
const rates = String(argv.rates ?? '5000,10000,20000,40000')
  .split(',')
  .map(Number);
if (rates.length === 0 || !rates.every((r) => Number.isInteger(r) && r > 0))
  fail('--rates: reactions/s, comma-separated');
const stepSeconds = intOption('step-seconds', 15, 5, 600);
const partitions = intOption('partitions', 4, 1, 64);
const recoveryRate = intOption('recovery-rate', 2500, 0, 200_000);
const beforeKill = intOption('before-kill', 12, 6, 600);
const latencyBudgetMs = intOption('latency-budget', 5000, 500, 600_000);

async function main(): Promise<void> {
  const t0 = Date.now();
  const bench = await openBench('bench-engines');
  const { admin, producer, brokers, registryUrl, stateDir, id } = bench;
  process.once('SIGINT', () => void bench.close().then(() => process.exit(130)));
  try {
    const job = await loadJob('emoji-swarm');
    const results: LiveBenchResult[] = [];
    for (const engine of engines as Engine[]) {
      console.log(chalk.bold(`\n== ${engine} ==`));
      results.push(
        await runLiveBench({
          engine,
          job,
          kafka: { admin, producer },
          brokers,
          registryUrl,
          stateDir: path.join(stateDir, engine),
          id,
          partitions,
          rates,
          stepSeconds,
          latencyBudgetMs,
          ...(recoveryRate > 0 ? { recovery: { rate: recoveryRate, beforeSeconds: beforeKill } } : {}),
        }),
      );
    }
    const rows = results.map(rowOf);
    for (const r of results) {
      console.log(chalk.bold(`\n${r.engine}: the ramp`));
      console.table(r.table);
    }
    console.log(chalk.bold('\nside by side'));
    console.table(rows);
    const at = new Date().toISOString();
    mkdirSync('reports', { recursive: true });
    writeFileSync(
      REPORT,
      `${JSON.stringify({ at, partitions, stepSeconds, latencyBudgetMs, rates, engines: rows, runs: results }, null, 2)}\n`,
    );
    writeFileSync(CHART, chart(rows, at, rates));
    console.log(`report: ${REPORT}, chart: ${CHART}; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    if (results.some((r) => r.recovery && !r.recovery.exact)) process.exitCode = 1;
  } finally {
    await bench.close();
  }
}

main().catch((err: unknown) => {
  console.error(chalk.red(String((err as Error).stack ?? err)));
  process.exit(1);
});
