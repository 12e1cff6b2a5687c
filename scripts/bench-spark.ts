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
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import { argv, chalk } from 'zx';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import type { AggregateRow, ReactionRecord } from '../common/records.ts';
import { type Stack, startStack } from '../infra/local/local-stack.ts';
import { coresMeter, processGroupCpuSeconds } from '../infra/local/process-cpu.ts';
import { type JobDefinition, loadJob, resolvePlan } from '../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { percentile } from '../jobs/spark-sql/control/percentile.ts';
import { createReactionLoad, type PartitionedMessage } from '../jobs/spark-sql/control/reaction-load.ts';
import { killGroup, readProgress, type StreamingProgress } from '../jobs/spark-sql/control/run-dir.ts';
import { createSparkJob } from '../jobs/spark-sql/control/spark-job.ts';
import { readAggregates } from '../jobs/spark-sql/control/stream-fixtures.ts';
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
const EMOJIS = ['🔥', '👏', '❤️', '😂', '😮', '😢', '👍', '🎉'];
const MATCHES = Array.from({ length: 20 }, (_, i) => `match-${i}`);
/**
 * Messages per produce call, all of one partition. kafkajs copies a partition's list per message it groups, so a
 * call costs O(n²); 500 measured cheapest per record between 125 and 1250.
 */
const SEND_SLICE = 500;

/**
 * Sends records already grouped by partition, all slices in flight at once: kafkajs regroups each send's messages
 * by copying a partition's list per message, so slices stay small; the partition is set, so nothing is hashed.
 */
async function sendPartitioned(producer: Producer, topic: string, perPartition: PartitionedMessage[][]) {
  const sends: Promise<unknown>[] = [];
  for (const messages of perPartition) {
    for (let at = 0; at < messages.length; at += SEND_SLICE) {
      const slice = messages.length <= SEND_SLICE ? messages : messages.slice(at, at + SEND_SLICE);
      sends.push(producer.send({ topic, acks: 1, messages: slice }));
    }
  }
  await Promise.all(sends);
}

const pct = (values: number[], p: number): number => percentile(values, p) ?? Number.NaN;

/** Mean of each durationMs phase and of the state operators' timings over the step's batches: where batch time goes. */
function formatBreakdown(progress: StreamingProgress[]): string {
  const sums = new Map<string, number>();
  for (const p of progress) {
    for (const [k, v] of Object.entries(p.durationMs ?? {})) sums.set(k, (sums.get(k) ?? 0) + v);
    for (const op of p.stateOperators ?? []) {
      for (const k of ['allUpdatesTimeMs', 'allRemovalsTimeMs', 'commitTimeMs'] as const)
        sums.set(`state.${k}`, (sums.get(`state.${k}`) ?? 0) + (op[k] ?? 0));
      sums.set('state.rows', (sums.get('state.rows') ?? 0) + (op.numRowsTotal ?? 0));
    }
  }
  const n = progress.length || 1;
  return [...sums.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${Math.round(v / n)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const t0 = Date.now();
  let stack: Stack | undefined;
  let brokers = process.env.KAFKA_BROKERS;
  let registryUrl = process.env.SCHEMA_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    console.log('starting Kafka + registry for the benchmark …');
    stack = await startStack({ topics: {} });
    brokers = stack.kafkaBrokers;
    registryUrl = stack.registryUrl;
  }
  const id = randomUUID().slice(0, 8);
  const topics = { reactions: `bench.reactions.${id}`, aggregates: `bench.aggregates.${id}` };
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'emostream-bench-spark-'));
  const kafka = createKafka({
    clientId: 'bench-spark',
    brokers,
    logger: createLogger('bench-spark', 'warn'),
    logLevel: KafkaLogLevel.ERROR,
  });
  const admin = kafka.admin();
  // Every message carries its partition (see reaction-load.ts): the partitioner only reads it back.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: () => (args) => args.message.partition as number,
  });
  let launcher: number | undefined;
  const cleanup = async () => {
    if (launcher) killGroup(launcher);
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    if (keepProgress) {
      await copyFile(path.join(stateDir, 'runs', 'emoji-swarm', 'progress.jsonl'), keepProgress).catch(
        () => {},
      );
    }
    await rm(stateDir, { recursive: true, force: true });
    await stack?.stop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    await Promise.all([admin.connect(), producer.connect()]);
    const job = await loadJob('emoji-swarm');
    const trigger = Number.parseInt(job.spec.trigger, 10) * 1000;
    if (mode === 'preload') {
      await runPreload({ kafka: { admin, producer }, registryUrl, brokers, stateDir, id, job, trigger });
      return;
    }
    await ensureTopic(admin, [
      { topic: topics.reactions, partitions },
      { topic: topics.aggregates, partitions: 2 },
    ]);
    const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
      topic: topics.reactions,
      schema: await loadSchema('reaction'),
    });
    const load = createReactionLoad(serde, { partitions, matches: MATCHES, emojis: EMOJIS });
    const config = loadJobsConfig({
      ...process.env,
      KAFKA_BROKERS: brokers,
      SCHEMA_REGISTRY_URL: registryUrl,
      REACTIONS_TOPIC: topics.reactions,
      AGGREGATES_TOPIC: topics.aggregates,
      SPARK_JOBS_STATE: stateDir,
    });
    console.log(`submitting emoji-swarm (trigger ${trigger} ms, ${partitions} partitions) …`);
    const spark = createSparkJob(await resolvePlan(job, config), { config });
    const submitted = await spark.start({ waitRunning: false });
    launcher = submitted.meta.launcherPid;
    await waitRunning(spark);
    console.log(`job running after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    // Probe latency: the aggregate row of probe match `probe-<n>` proves reaction n went through.
    const probeSent = new Map<string, number>();
    const probeLatency = new Map<string, number>();
    const reader = await readAggregates(brokers, registryUrl, topics.aggregates, (row: AggregateRow) => {
      const sent = probeSent.get(row.match_id);
      if (sent !== undefined && !probeLatency.has(row.match_id))
        probeLatency.set(row.match_id, Date.now() - sent);
    });

    const endOffsets = async () =>
      (await admin.fetchTopicOffsets(topics.reactions)).reduce((n, p) => n + Number(p.high), 0);
    const committed = (p: StreamingProgress | undefined) => {
      const end = p?.sources[0]?.endOffset as Record<string, Record<string, number>> | undefined;
      return end ? Object.values(end[topics.reactions] ?? {}).reduce((n, o) => n + o, 0) : 0;
    };

    let probeN = 0;
    // Warm-up: JIT, first batches, state store creation.
    // Warm-up until Spark has read it all: the first micro-batches compile code and create the state store, and
    // take far longer than the trigger on a busy two-core machine.
    await produceFor(6, 5000);
    const warmTarget = await endOffsets();
    const warmDeadline = Date.now() + 240_000;
    while (committed((await readProgress(submitted.paths, 1))[0]) < warmTarget) {
      if (Date.now() > warmDeadline) throw new Error('Spark did not catch up with the warm-up within 240 s');
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 2 * trigger));
    console.log(`warmed up after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    async function produceFor(seconds: number, rate: number): Promise<number> {
      const tickMs = 100;
      const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
      const end = Date.now() + seconds * 1000;
      let sent = 0;
      let next = Date.now();
      let lastProbe = 0;
      while (Date.now() < end) {
        const now = Date.now();
        const perPartition = load.next(perTick, now);
        if (now - lastProbe >= 250) {
          const match = `probe-${probeN++}`;
          const probe = load.single(
            { match_id: match, user_id: 'probe', emoji: '🔥', client_ts: now, ingest_ts: now },
            match,
          );
          perPartition[probe.partition]?.push(probe);
          probeSent.set(match, now);
          lastProbe = now;
        }
        await sendPartitioned(producer, topics.reactions, perPartition);
        sent += perTick;
        next += tickMs;
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else if (wait < -1000) next = Date.now(); // behind by a second: the producer is the limit, do not burst
      }
      return sent;
    }

    const table: Record<string, string | number | boolean>[] = [];
    let sustained = 0;
    for (const rate of rates) {
      const stepStart = Date.now();
      const cpuStart = process.cpuUsage();
      const sparkCpu = coresMeter(() => processGroupCpuSeconds(launcher as number));
      const firstProbe = probeN;
      const lags: number[] = [];
      const lagTimer = setInterval(() => {
        void Promise.all([endOffsets(), readProgress(submitted.paths, 1)]).then(([end, [p]]) =>
          lags.push(end - committed(p)),
        );
      }, 1000);
      console.log(chalk.cyan(`rate ${rate}/s for ${stepSeconds} s …`));
      const sent = await produceFor(stepSeconds, rate);
      const produced = sent / ((Date.now() - stepStart) / 1000);
      // The producer shares the cores with Spark and the broker: its CPU share says whether the bench is the limit.
      const cpu = process.cpuUsage(cpuStart);
      const benchCpu = (cpu.user + cpu.system) / 1000 / (Date.now() - stepStart);
      await new Promise((r) => setTimeout(r, trigger + 500)); // let the last batch of the step finish
      const sparkCores = sparkCpu.stop();
      clearInterval(lagTimer);
      const progress = (await readProgress(submitted.paths, 500)).filter(
        (p) =>
          Date.parse(p.timestamp) >= stepStart + trigger &&
          Date.parse(p.timestamp) <= stepStart + stepSeconds * 1000,
      );
      const durations = progress.map((p) => p.batchDuration ?? 0);
      const lat = [...probeLatency.entries()]
        .filter(([m]) => Number(m.slice(6)) >= firstProbe)
        .map(([, ms]) => ms);
      const half = lags.slice(Math.floor(lags.length / 2));
      const lagGrowing =
        half.length > 2 &&
        (half.at(-1) as number) > Math.max(2 * rate * (trigger / 1000), (half[0] as number) * 1.2);
      const ok =
        durations.length > 0 && pct(durations, 99) <= trigger && !lagGrowing && produced >= rate * 0.9;
      const row = {
        'target/s': rate,
        'produced/s': Math.round(produced),
        'spark in/s': Math.round(
          progress.reduce((n, p) => n + (p.processedRowsPerSecond ?? 0), 0) / (progress.length || 1),
        ),
        batches: durations.length,
        'batch p50 ms': pct(durations, 50),
        'batch p99 ms': pct(durations, 99),
        'lag max': Math.max(0, ...lags),
        'lag end': lags.at(-1) ?? Number.NaN,
        'latency p50 ms': pct(lat, 50),
        'latency p99 ms': pct(lat, 99),
        // Cores the driver's process group (runner, JVM: local[N] executors included) used over the step.
        'spark cores': Number(sparkCores.toFixed(2)),
        'rows/s/core': sparkCores > 0 ? Math.round(produced / sparkCores) : 0,
        sustained: ok,
      };
      table.push(row);
      console.log(row);
      console.log(`  bench process CPU ${(benchCpu * 100).toFixed(0)}% of one core`);
      console.log(`  per-batch ms (mean): ${formatBreakdown(progress)}`);
      if (ok) sustained = rate;
      else if (produced < rate * 0.9) {
        console.log(chalk.yellow('the producer could not reach the target rate; stopping the ramp'));
        break;
      } else {
        console.log(chalk.yellow('not sustained; stopping the ramp'));
        break;
      }
    }
    await reader.close();
    await spark.stop(60_000);
    launcher = undefined;
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

/** Waits for the query to run: the bench reads its start-up time, so it starts without waiting. */
async function waitRunning(spark: ReturnType<typeof createSparkJob>): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { state, error } = await spark.status(1);
    if (state === 'running') return;
    if (state !== 'starting' || Date.now() > deadline)
      throw new Error(`job ${state}${error ? `: ${error}` : ''}; see ${spark.paths.log}`);
    await new Promise((r) => setTimeout(r, 250));
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
