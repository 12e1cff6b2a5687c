#!/usr/bin/env tsx
/**
 * bench:spark — feeds the reactions topic at increasing rates through the emoji-swarm job (real Kafka, registry and
 * Spark local[2]) and reports, per rate: achieved produce rate, Spark batch duration p50/p99, consumer lag trend,
 * and produce-to-aggregate latency p50/p99 (probe reactions, each on its own match, timed from send to the moment
 * its aggregate row is read back). The highest rate whose batches stay under the trigger with a lag that does not
 * grow is the sustained rate. Not a test; bounded in time (--step-seconds × steps + Spark start-up).
 *
 *   npm run bench:spark                                  # starts its own Kafka + registry on free ports
 *   KAFKA_BROKERS=… SCHEMA_REGISTRY_URL=… npm run bench:spark -- --rates 20000,50000,80000 --step-seconds 20
 *   npm run bench:spark -- --keep-progress /tmp/progress.jsonl   # keep every micro-batch's progress JSON
 *   npm run bench:spark -- --mode preload --rates 30000,50000,75000  # Spark alone, no producer beside it
 *
 * `--mode preload` takes the load generator off the cores while Spark runs: for each rate it first writes
 * (warm-up + step) seconds of reactions to a fresh topic, their ingest_ts spaced as a live feed at that rate would
 * stamp them, then runs the job with maxOffsetsPerTrigger = rate × trigger, so every micro-batch reads exactly one
 * trigger's worth of that feed. A rate is sustained when the batches after the warm-up finish within the trigger
 * (the backlog then drains at the rate it would arrive). No produce-to-aggregate latency in this mode: the data is
 * already there.
 *
 * The live mode is scripts/job-bench.ts's `runLiveBench` on Spark, which `bench:engines` runs on every engine.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import { argv, chalk } from 'zx';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { ensureTopic } from '../common/kafka.ts';
import type { ReactionRecord } from '../common/records.ts';
import { coresMeter, processGroupCpuSeconds } from '../infra/local/process-cpu.ts';
import { intervalMs, type JobDefinition, loadJob, resolvePlan } from '../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { createReactionLoad } from '../jobs/spark-sql/control/reaction-load.ts';
import { killGroup, readProgress } from '../jobs/spark-sql/control/run-dir.ts';
import { createSparkJob } from '../jobs/spark-sql/control/spark-job.ts';
import {
  EMOJIS,
  formatBreakdown,
  MATCHES,
  openBench,
  pct,
  runLiveBench,
  type StepRow,
  sendPartitioned,
  waitRunning,
} from './job-bench.ts';
import { lineChartSvg } from './svg-chart.ts';

const rates = String(argv.rates ?? '10000,25000,50000,75000,100000,150000')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const mode = String(argv.mode ?? 'live');
if (mode !== 'live' && mode !== 'preload') throw new Error('--mode is live or preload');
/** Preload mode reads a step's feed far faster to write, so its steps are longer: more batches, a firmer p99. */
const stepSeconds = Number(argv['step-seconds'] ?? (mode === 'preload' ? 60 : 24));
const partitions = Number(argv.partitions ?? 4);
/** `--keep-progress <file>`: copy the job's progress.jsonl there before the run directory is removed. */
const keepProgress = argv['keep-progress'] ? path.resolve(String(argv['keep-progress'])) : undefined;
/** Preload mode: seconds of feed the job reads before the measured batches (JIT, state store creation). */
const WARM_SECONDS = 20;

async function main(): Promise<void> {
  const t0 = Date.now();
  const bench = await openBench('bench-spark');
  const { admin, producer, brokers, registryUrl, stateDir, id } = bench;
  const cleanup = async () => {
    if (keepProgress) {
      await copyFile(path.join(stateDir, 'runs', 'emoji-swarm', 'progress.jsonl'), keepProgress).catch(
        () => {},
      );
    }
    await bench.close();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const job = await loadJob('emoji-swarm');
    const trigger = intervalMs(job.spec.trigger);
    if (mode === 'preload') {
      await runPreload({ kafka: { admin, producer }, registryUrl, brokers, stateDir, id, job, trigger });
      return;
    }
    const result = await runLiveBench({
      engine: 'spark',
      job,
      kafka: { admin, producer },
      brokers,
      registryUrl,
      stateDir,
      id,
      partitions,
      rates,
      stepSeconds,
      // Spark's own criterion is the batches' p99 within the trigger; the probes only have to come back.
      latencyBudgetMs: Number.POSITIVE_INFINITY,
    });
    // `spark cores`: the name the capacity model reads.
    const table: StepRow[] = result.table.map(({ cores, ...row }) => ({
      ...row,
      'spark cores': cores ?? Number.NaN,
    }));
    const { sustained } = result;
    console.table(table);
    mkdirSync('reports', { recursive: true });
    writeFileSync(
      'reports/bench-spark.json',
      `${JSON.stringify({ at: new Date().toISOString(), trigger, partitions, sustained, table }, null, 2)}\n`,
    );
    writeFileSync(
      'reports/bench-spark.svg',
      lineChartSvg({
        title: 'Spark micro-batch duration vs input rate (emoji-swarm, local[2])',
        xLabel: 'target reactions/s',
        yLabel: 'ms',
        series: [
          {
            name: 'batch p50',
            points: table.map((r) => [Number(r['target/s']), Number(r['batch p50 ms'])] as const),
          },
          {
            name: 'batch p99',
            points: table.map((r) => [Number(r['target/s']), Number(r['batch p99 ms'])] as const),
          },
          {
            name: 'produce → aggregate p99',
            points: table.map((r) => [Number(r['target/s']), Number(r['latency p99 ms'])] as const),
          },
        ],
        hLines: [{ y: trigger, label: `trigger ${trigger} ms` }],
      }),
    );
    console.log('report: reports/bench-spark.json, chart: reports/bench-spark.svg');
    console.log(
      `${chalk.bold('highest sustained rate')}: ${sustained} reactions/s (batch p99 ≤ trigger ${trigger} ms, lag not growing); ` +
        `total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
  } finally {
    await cleanup();
  }
}

interface PreloadContext {
  kafka: { admin: Admin; producer: Producer };
  registryUrl: string;
  brokers: string;
  stateDir: string;
  id: string;
  job: JobDefinition;
  trigger: number;
}

/** `--mode preload`: per rate, a fresh topic holding the whole feed, read by the job one trigger's worth per batch. */
async function runPreload(ctx: PreloadContext): Promise<void> {
  const { admin, producer } = ctx.kafka;
  const table: Record<string, string | number | boolean>[] = [];
  let sustained = 0;
  for (const rate of rates) {
    const topic = `bench.reactions.${ctx.id}.${rate}`;
    const aggregates = `bench.aggregates.${ctx.id}.${rate}`;
    await ensureTopic(admin, [
      { topic, partitions },
      { topic: aggregates, partitions: 2 },
    ]);
    const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(ctx.registryUrl), {
      topic,
      schema: await loadSchema('reaction'),
    });
    const load = createReactionLoad(serde, { partitions, matches: MATCHES, emojis: EMOJIS });
    const total = rate * (WARM_SECONDS + stepSeconds);
    const perBatch = Math.round((rate * ctx.trigger) / 1000);
    console.log(
      chalk.cyan(`rate ${rate}/s: writing ${total} reactions (${WARM_SECONDS + stepSeconds} s of feed) …`),
    );
    const perTick = Math.round(rate / 10);
    let ts = Date.now();
    let written = 0;
    let shown = Date.now();
    while (written < total) {
      const sends: Promise<void>[] = [];
      for (let t = 0; t < 10 && written < total; t++, written += perTick, ts += 100)
        sends.push(sendPartitioned(producer, topic, load.next(perTick, ts)));
      await Promise.all(sends);
      if (Date.now() - shown > 3000) {
        console.log(`  written ${written}/${total}`);
        shown = Date.now();
      }
    }
    const config = loadJobsConfig({
      ...process.env,
      KAFKA_BROKERS: ctx.brokers,
      SCHEMA_REGISTRY_URL: ctx.registryUrl,
      REACTIONS_TOPIC: topic,
      AGGREGATES_TOPIC: aggregates,
      SPARK_JOBS_STATE: path.join(ctx.stateDir, String(rate)),
      SPARK_STARTING_OFFSETS: 'earliest',
      SPARK_MAX_OFFSETS_PER_TRIGGER: String(perBatch),
    });
    const spark = createSparkJob(await resolvePlan(ctx.job, config), { config });
    const submitted = await spark.start({ waitRunning: false });
    const launcher = submitted.meta.launcherPid;
    try {
      await waitRunning(spark);
      const sparkCpu = coresMeter(() => processGroupCpuSeconds(launcher));
      const batches = Math.ceil(total / perBatch);
      const deadline = Date.now() + 120_000 + batches * ctx.trigger * 3;
      let shownBatch = -1;
      for (;;) {
        const progress = await readProgress(submitted.paths, 500);
        const p = progress.at(-1);
        if (p && p.batchId !== shownBatch) {
          shownBatch = p.batchId;
          console.log(`  batch ${p.batchId}: ${p.numInputRows} rows in ${p.batchDuration} ms`);
        }
        if (progress.reduce((n, q) => n + q.numInputRows, 0) >= total) break;
        if (Date.now() > deadline) throw new Error(`the job did not read ${total} reactions in time`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const sparkCores = sparkCpu.stop();
      const warmBatches = Math.ceil((WARM_SECONDS * 1000) / ctx.trigger);
      const measured = (await readProgress(submitted.paths, 500)).filter(
        (p) => p.batchId >= warmBatches && p.numInputRows > 0,
      );
      const durations = measured.map((p) => p.batchDuration ?? 0);
      const ok = durations.length > 0 && pct(durations, 99) <= ctx.trigger;
      // Rows read per second of wall time across the measured batches: the feed's rate when every batch keeps up.
      const first = measured[0];
      const last = measured.at(-1);
      const span =
        first && last
          ? Date.parse(last.timestamp) + (last.batchDuration ?? 0) - Date.parse(first.timestamp)
          : Number.NaN;
      const drained = measured.reduce((n, p) => n + p.numInputRows, 0) / (span / 1000);
      const row = {
        'target/s': rate,
        'rows/batch': perBatch,
        batches: durations.length,
        'batch p50 ms': pct(durations, 50),
        'batch p99 ms': pct(durations, 99),
        'batch max ms': Math.max(...durations),
        'read/s over the step': Math.round(drained),
        'spark rows/s while busy': Math.round(
          measured.reduce((n, p) => n + (p.processedRowsPerSecond ?? 0), 0) / (measured.length || 1),
        ),
        // Cores the driver's process group used from the query running to the last row read (warm-up included).
        'spark cores': Number(sparkCores.toFixed(2)),
        'rows/s/core': sparkCores > 0 ? Math.round(drained / sparkCores) : 0,
        sustained: ok,
      };
      table.push(row);
      console.log(row);
      console.log(`  per-batch ms (mean): ${formatBreakdown(measured)}`);
      if (ok) sustained = rate;
    } finally {
      await spark.stop(60_000).catch(() => killGroup(launcher));
      const keep =
        keepProgress && (rates.length > 1 ? keepProgress.replace(/(\.\w+)?$/, `-${rate}$1`) : keepProgress);
      if (keep) await copyFile(submitted.paths.progress, keep).catch(() => {});
    }
    if (table.at(-1)?.sustained !== true) {
      console.log(chalk.yellow('not sustained; stopping the ramp'));
      break;
    }
  }
  console.table(table);
  mkdirSync('reports', { recursive: true });
  writeFileSync(
    'reports/bench-spark-preload.json',
    `${JSON.stringify({ at: new Date().toISOString(), mode: 'preload', trigger: ctx.trigger, partitions, sustained, table }, null, 2)}\n`,
  );
  console.log('report: reports/bench-spark-preload.json');
  console.log(
    `${chalk.bold('highest sustained rate, Spark alone')}: ${sustained} reactions/s (batch p99 ≤ trigger ${ctx.trigger} ms)`,
  );
}

main().catch((err: unknown) => {
  console.error(chalk.red(String((err as Error).stack ?? err)));
  process.exit(1);
});
