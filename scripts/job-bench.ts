/**
 * The live benchmark of a streaming job, on any engine behind {@link JobLauncher}: what `bench:spark` (Spark alone)
 * and `bench:engines` (each engine in turn) both run. {@link runLiveBench} starts the job on fresh topics, feeds
 * the reactions topic at increasing rates with latency probes (each on its own match, timed from send to the
 * moment its aggregate row is read back), and reports per rate: achieved produce rate, the job's input rate, lag
 * trend, probe latency p50/p99, cores and resident memory of the job's process group. Optionally, before the ramp,
 * a SIGKILL of the job's JVM under load, a restart from its checkpoint, the time until output flows again and an
 * exact-count check of every (match, window, emoji) against what was sent.
 *
 * A rate is sustained when the producer reached it, the lag did not grow over the step's second half, the probes'
 * p99 stayed within the latency budget and, on Spark, the micro-batches' p99 stayed within the trigger.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Admin, Producer } from 'kafkajs';
import { chalk } from 'zx';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import type { AggregateRow, ReactionRecord } from '../common/records.ts';
import { type Stack, startStack } from '../infra/local/local-stack.ts';
import {
  coresMeter,
  processGroupCpuSeconds,
  processGroupMembers,
  processGroupRssBytes,
} from '../infra/local/process-cpu.ts';
import { createJob, type JobLauncher } from '../jobs/spark-sql/control/job-launcher.ts';
import {
  type Engine,
  intervalMs,
  type JobDefinition,
  resolvePlan,
} from '../jobs/spark-sql/control/job-plan.ts';
import { loadJobsConfig } from '../jobs/spark-sql/control/jobs-config.ts';
import { percentile } from '../jobs/spark-sql/control/percentile.ts';
import { createReactionLoad, type PartitionedMessage } from '../jobs/spark-sql/control/reaction-load.ts';
import {
  killGroup,
  offsetsBehind,
  readProgress,
  type StreamingProgress,
} from '../jobs/spark-sql/control/run-dir.ts';
import { aggregateKey, readAggregates } from '../jobs/spark-sql/control/stream-fixtures.ts';

export const EMOJIS = ['🔥', '👏', '❤️', '😂', '😮', '😢', '👍', '🎉'];
export const MATCHES = Array.from({ length: 20 }, (_, i) => `match-${i}`);
/**
 * Messages per produce call, all of one partition. kafkajs copies a partition's list per message it groups, so a
 * call costs O(n²); 500 measured cheapest per record between 125 and 1250.
 */
const SEND_SLICE = 500;
/** A probe every this many ms. */
const PROBE_MS = 250;

/**
 * Sends records already grouped by partition, all slices in flight at once: kafkajs regroups each send's messages
 * by copying a partition's list per message, so slices stay small; the partition is set, so nothing is hashed.
 */
export async function sendPartitioned(
  producer: Producer,
  topic: string,
  perPartition: PartitionedMessage[][],
) {
  const sends: Promise<unknown>[] = [];
  for (const messages of perPartition) {
    for (let at = 0; at < messages.length; at += SEND_SLICE) {
      const slice = messages.length <= SEND_SLICE ? messages : messages.slice(at, at + SEND_SLICE);
      sends.push(producer.send({ topic, acks: 1, messages: slice }));
    }
  }
  await Promise.all(sends);
}

export const pct = (values: number[], p: number): number => percentile(values, p) ?? Number.NaN;

/** Mean of each durationMs phase and of the state operators' timings over the step's batches: where batch time goes. */
export function formatBreakdown(progress: StreamingProgress[]): string {
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

/** A benchmark's Kafka side: brokers and registry, an admin, a partition-setting producer and a state dir. */
export interface BenchKafka {
  brokers: string;
  registryUrl: string;
  admin: Admin;
  producer: Producer;
  /** A fresh temp dir for the job's run directories and checkpoints. */
  stateDir: string;
  /** A run id for fresh topic names. */
  id: string;
  /** Disconnects, removes the state dir, stops the stack if this started it. */
  close(): Promise<void>;
}

/**
 * Connects a benchmark to KAFKA_BROKERS + SCHEMA_REGISTRY_URL, or starts its own Kafka + registry on free ports
 * when they are unset; the producer sends each message to the partition it carries (see reaction-load.ts).
 */
export async function openBench(name: string): Promise<BenchKafka> {
  let stack: Stack | undefined;
  let brokers = process.env.KAFKA_BROKERS;
  let registryUrl = process.env.SCHEMA_REGISTRY_URL;
  if (!brokers || !registryUrl) {
    console.log('starting Kafka + registry for the benchmark …');
    stack = await startStack({ topics: {} });
    brokers = stack.kafkaBrokers;
    registryUrl = stack.registryUrl;
  }
  const stateDir = await mkdtemp(path.join(os.tmpdir(), `emostream-${name}-`));
  const kafka = createKafka({
    clientId: name,
    brokers,
    logger: createLogger(name, 'warn'),
    logLevel: KafkaLogLevel.ERROR,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: () => (args) => args.message.partition as number,
  });
  const close = async () => {
    await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    await rm(stateDir, { recursive: true, force: true });
    await stack?.stop();
  };
  try {
    await Promise.all([admin.connect(), producer.connect()]);
  } catch (error) {
    await close();
    throw error;
  }
  return { brokers, registryUrl, admin, producer, stateDir, id: randomUUID().slice(0, 8), close };
}

/** Waits for the job to run (the bench times its start-up, so it starts without waiting). */
export async function waitRunning(job: JobLauncher, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { state, error } = await job.status(1);
    if (state === 'running') return;
    if (state !== 'starting' || Date.now() > deadline)
      throw new Error(`job ${state}${error ? `: ${error}` : ''}; see ${job.paths.log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The SIGKILL-and-restart measurement of {@link runLiveBench}. */
export interface RecoveryOptions {
  /** Reactions/s fed before, during and after the kill. */
  rate: number;
  /** Seconds of load before the kill (at least one checkpoint). */
  beforeSeconds: number;
}

/** What the recovery measurement found. */
export interface RecoveryResult {
  rate: number;
  /** The JVM(s) killed: `pid comm`. */
  killed: string[];
  /** Kill → the restarted job running again. */
  restartMs: number;
  /** Kill → the aggregate row of the first probe sent after the kill read back: output flows again. */
  recoveryMs: number;
  /** Kill → every row exact again (all sent before and after the kill counted once). */
  exactMs: number;
  /** (match, window, emoji) keys sent. */
  keys: number;
  /** Keys whose final count is lower / higher than sent, or missing; keys read that were never sent. */
  under: number;
  over: number;
  missing: number;
  extra: number;
  exact: boolean;
}

/** Options of {@link runLiveBench}. */
export interface LiveBenchOptions {
  engine: Engine;
  job: JobDefinition;
  kafka: { admin: Admin; producer: Producer };
  brokers: string;
  registryUrl: string;
  /** The job's state directory (run dir, checkpoints). */
  stateDir: string;
  /** Suffix of the fresh topics. */
  id: string;
  partitions: number;
  rates: readonly number[];
  stepSeconds: number;
  /** A rate is sustained only while the probes' p99 stays within this. */
  latencyBudgetMs: number;
  recovery?: RecoveryOptions;
  /** Extra environment of the job (e.g. FLINK_PARALLELISM). */
  env?: Record<string, string>;
}

/** One row of the ramp. */
export type StepRow = Record<string, string | number | boolean>;

/** What {@link runLiveBench} measured. */
export interface LiveBenchResult {
  engine: Engine;
  trigger: number;
  /** start() → the job running. */
  startupMs: number;
  /** start() → its first aggregate row read (the warm-up's). */
  firstRowMs: number;
  recovery?: RecoveryResult;
  table: StepRow[];
  /** Highest rate sustained (0: none). */
  sustained: number;
  /** The sustained step's row, if any. */
  best?: StepRow;
}

/** Runs the live benchmark of `options.job` on `options.engine`; stops the job at the end, also on failure. */
export async function runLiveBench(options: LiveBenchOptions): Promise<LiveBenchResult> {
  const { admin, producer } = options.kafka;
  const { engine, job, brokers, registryUrl, partitions, id } = options;
  const trigger = intervalMs(job.spec.trigger);
  const windowMs = intervalMs(job.spec.params.window?.value ?? '2 seconds');
  const topics = {
    reactions: `bench.reactions.${engine}.${id}`,
    aggregates: `bench.aggregates.${engine}.${id}`,
  };
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
    SPARK_JOBS_STATE: options.stateDir,
    ...options.env,
  });
  console.log(`submitting ${job.name} on ${engine} (trigger ${trigger} ms, ${partitions} partitions) …`);
  const launcher = createJob(await resolvePlan(job, config, engine), { config });
  const t0 = Date.now();
  let submitted = await launcher.start({ waitRunning: false });
  let pid = submitted.meta.launcherPid;
  try {
    await waitRunning(launcher);
    const startupMs = Date.now() - t0;
    console.log(`${engine}: job running after ${(startupMs / 1000).toFixed(1)} s`);

    // The ledger: what was sent per (match, window, emoji), for the exact-count check; record i of the load is
    // match i % matches, emoji (i >> 3) % emojis (reaction-load.ts).
    const sentCounts = new Map<string, number>();
    let loadIndex = 0;
    const ledger = (count: number, now: number) => {
      const windowStart = now - (now % windowMs);
      for (let k = 0; k < count; k++, loadIndex++) {
        const key = aggregateKey({
          match_id: MATCHES[loadIndex % MATCHES.length] as string,
          window_start: windowStart,
          emoji: EMOJIS[(loadIndex >> 3) % EMOJIS.length] as string,
        });
        sentCounts.set(key, (sentCounts.get(key) ?? 0) + 1);
      }
    };

    const probeSent = new Map<string, number>();
    const probeLatency = new Map<string, number>();
    let firstRowAt = 0;
    const reader = await readAggregates(brokers, registryUrl, topics.aggregates, (row: AggregateRow) => {
      firstRowAt ||= Date.now();
      const sent = probeSent.get(row.match_id);
      if (sent !== undefined && !probeLatency.has(row.match_id))
        probeLatency.set(row.match_id, Date.now() - sent);
    });
    const endOffsets = async () =>
      (await admin.fetchTopicOffsets(topics.reactions)).reduce((n, p) => n + Number(p.high), 0);
    // Records the job has read, from its progress (both runners report the source's consumed offsets there).
    const consumed = (p: StreamingProgress | undefined) => {
      const end = p?.sources[0]?.endOffset as Record<string, Record<string, number>> | undefined;
      return end ? Object.values(end[topics.reactions] ?? {}).reduce((n, o) => n + o, 0) : 0;
    };

    let probeN = 0;
    let ledgerOn = true;
    async function produceFor(seconds: number, rate: number, until?: () => boolean): Promise<number> {
      const tickMs = 100;
      const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
      const end = Date.now() + seconds * 1000;
      let sent = 0;
      let next = Date.now();
      let lastProbe = 0;
      while (until ? !until() : Date.now() < end) {
        const now = Date.now();
        const perPartition = load.next(perTick, now);
        if (ledgerOn) ledger(perTick, now);
        else loadIndex += perTick;
        if (now - lastProbe >= PROBE_MS) {
          const match = `probe-${probeN++}`;
          const probe = load.single(
            { match_id: match, user_id: 'probe', emoji: '🔥', client_ts: now, ingest_ts: now },
            match,
          );
          perPartition[probe.partition]?.push(probe);
          probeSent.set(match, now);
          if (ledgerOn)
            sentCounts.set(
              aggregateKey({ match_id: match, window_start: now - (now % windowMs), emoji: '🔥' }),
              1,
            );
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

    // Warm-up until the job has read it all: the first batches compile code and create the state, and take far
    // longer than the trigger on a busy two-core machine.
    await produceFor(6, 5000);
    const warmTarget = await endOffsets();
    const warmDeadline = Date.now() + 240_000;
    while (consumed((await readProgress(submitted.paths, 1))[0]) < warmTarget) {
      if (Date.now() > warmDeadline)
        throw new Error(`${engine} did not catch up with the warm-up within 240 s`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await new Promise((r) => setTimeout(r, 2 * trigger));
    const firstRowMs = firstRowAt ? firstRowAt - t0 : Number.NaN;
    console.log(`${engine}: warmed up after ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    let recovery: RecoveryResult | undefined;
    if (options.recovery) {
      const r = options.recovery;
      console.log(
        chalk.cyan(`${engine}: SIGKILL of the job's JVM at ${r.rate}/s after ${r.beforeSeconds} s …`),
      );
      await produceFor(r.beforeSeconds, r.rate);
      const jvms = processGroupMembers(pid).filter((m) => m.comm === 'java');
      if (jvms.length === 0) throw new Error(`no JVM in the job's process group ${pid}`);
      const killedAt = Date.now();
      const firstAfter = probeN;
      for (const m of jvms) process.kill(m.pid, 'SIGKILL');
      let restartMs = Number.NaN;
      // The supervisor's part: once the runner has gone, start the job again (it restores its checkpoint).
      const restart = (async () => {
        for (;;) {
          const { state } = await launcher.status(1);
          if (state !== 'running') break;
          await new Promise((res) => setTimeout(res, 100));
        }
        killGroup(pid); // what is left of the run (a runner that outlives its JVM)
        submitted = await launcher.start({ replace: true, waitRunning: false });
        pid = submitted.meta.launcherPid;
        await waitRunning(launcher);
        restartMs = Date.now() - killedAt;
        console.log(`${engine}: running again ${(restartMs / 1000).toFixed(1)} s after the kill`);
      })();
      const back = () =>
        [...probeLatency.keys()].some((m) => Number(m.slice(6)) >= firstAfter) ||
        Date.now() - killedAt > 300_000;
      await produceFor(0, r.rate, back);
      await restart;
      const recoveryMs = Date.now() - killedAt;
      console.log(`${engine}: output flowing again ${(recoveryMs / 1000).toFixed(1)} s after the kill`);
      await produceFor(5, r.rate);
      ledgerOn = false;
      const exactNow = () => [...sentCounts].every(([k, n]) => reader.latest.get(k)?.count === n);
      const exactDeadline = Date.now() + 120_000;
      while (!exactNow() && Date.now() < exactDeadline) await new Promise((res) => setTimeout(res, 250));
      const exactMs = Date.now() - killedAt;
      let under = 0;
      let over = 0;
      let missing = 0;
      for (const [k, n] of sentCounts) {
        const got = reader.latest.get(k)?.count;
        if (got === undefined) missing++;
        else if (got < n) under++;
        else if (got > n) over++;
      }
      const extra = [...reader.latest.keys()].filter((k) => !sentCounts.has(k)).length;
      recovery = {
        rate: r.rate,
        killed: jvms.map((m) => `${m.pid} ${m.comm}`),
        restartMs,
        recoveryMs,
        exactMs,
        keys: sentCounts.size,
        under,
        over,
        missing,
        extra,
        exact: under + over + missing + extra === 0,
      };
      console.log(recovery);
    }

    const table: StepRow[] = [];
    let sustained = 0;
    let best: StepRow | undefined;
    for (const rate of options.rates) {
      const stepStart = Date.now();
      const cpuStart = process.cpuUsage();
      const jobCpu = coresMeter(() => processGroupCpuSeconds(pid));
      const firstProbe = probeN;
      const lags: number[] = [];
      let rssMax = 0;
      const sampler = setInterval(() => {
        rssMax = Math.max(rssMax, processGroupRssBytes(pid));
        // Spark's offsets are the topic's; Flink's count what this run read (from its restore on), so its lag is
        // the source's own backlog (pending records).
        void Promise.all([endOffsets(), readProgress(submitted.paths, 1)]).then(([end, [p]]) =>
          lags.push(engine === 'spark' || !p ? end - consumed(p) : (offsetsBehind(p) ?? end - consumed(p))),
        );
      }, 1000);
      console.log(chalk.cyan(`${engine}: rate ${rate}/s for ${options.stepSeconds} s …`));
      const sent = await produceFor(options.stepSeconds, rate);
      const produced = sent / ((Date.now() - stepStart) / 1000);
      // The producer shares the cores with the job and the broker: its CPU share says whether the bench is the limit.
      const cpu = process.cpuUsage(cpuStart);
      const benchCpu = (cpu.user + cpu.system) / 1000 / (Date.now() - stepStart);
      await new Promise((r) => setTimeout(r, trigger + 500)); // let the last batch of the step finish
      const cores = jobCpu.stop();
      clearInterval(sampler);
      const progress = (await readProgress(submitted.paths, 500)).filter(
        (p) =>
          Date.parse(p.timestamp) >= stepStart + trigger &&
          Date.parse(p.timestamp) <= stepStart + options.stepSeconds * 1000,
      );
      // Spark's progress is one line per micro-batch; Flink's one per poll of its metrics (no batches).
      const durations = engine === 'spark' ? progress.map((p) => p.batchDuration ?? 0) : [];
      const lat = [...probeLatency.entries()]
        .filter(([m]) => Number(m.slice(6)) >= firstProbe)
        .map(([, ms]) => ms);
      const probesLost = probeN - firstProbe - lat.length;
      // Probes of the step's first half still not back at its end: the output fell behind (the latencies read only
      // cover the probes that did come back).
      const halfWay = stepStart + (options.stepSeconds * 1000) / 2;
      const lateProbes = [...probeSent.entries()].filter(
        ([m, at]) => Number(m.slice(6)) >= firstProbe && at < halfWay && !probeLatency.has(m),
      ).length;
      const half = lags.slice(Math.floor(lags.length / 2));
      const lagGrowing =
        half.length > 2 &&
        (half.at(-1) as number) > Math.max(2 * rate * (trigger / 1000), (half[0] as number) * 1.2);
      const latencyOk =
        lat.length > 0 &&
        (options.latencyBudgetMs === Number.POSITIVE_INFINITY ||
          (lateProbes === 0 && pct(lat, 99) <= options.latencyBudgetMs));
      const batchesOk = engine !== 'spark' || (durations.length > 0 && pct(durations, 99) <= trigger);
      const ok = batchesOk && latencyOk && !lagGrowing && produced >= rate * 0.9;
      const row: StepRow = {
        'target/s': rate,
        'produced/s': Math.round(produced),
        // Spark's own rows/s per micro-batch; Flink's REST metrics refresh every 10 s, too coarse for a 15 s step.
        ...(engine === 'spark'
          ? {
              'job in/s': Math.round(
                progress.reduce((n, p) => n + (p.processedRowsPerSecond ?? 0), 0) / (progress.length || 1),
              ),
              batches: durations.length,
              'batch p50 ms': pct(durations, 50),
              'batch p99 ms': pct(durations, 99),
            }
          : {}),
        'lag max': Math.max(0, ...lags),
        'lag end': lags.at(-1) ?? Number.NaN,
        'latency p50 ms': pct(lat, 50),
        'latency p99 ms': pct(lat, 99),
        'probes not back': probesLost,
        // Cores the job's process group (runner and JVM: local executors or mini-cluster included) used.
        cores: Number(cores.toFixed(2)),
        'rss max MiB': Math.round(rssMax / 2 ** 20),
        'rows/s/core': cores > 0 ? Math.round(produced / cores) : 0,
        sustained: ok,
      };
      table.push(row);
      console.log(row);
      console.log(`  bench process CPU ${(benchCpu * 100).toFixed(0)}% of one core`);
      if (engine === 'spark') console.log(`  per-batch ms (mean): ${formatBreakdown(progress)}`);
      if (ok) {
        sustained = rate;
        best = row;
      } else {
        console.log(
          chalk.yellow(
            produced < rate * 0.9
              ? 'the producer could not reach the target rate; stopping the ramp'
              : 'not sustained; stopping the ramp',
          ),
        );
        break;
      }
    }
    await reader.close();
    await launcher.stop(60_000);
    return {
      engine,
      trigger,
      startupMs,
      firstRowMs,
      ...(recovery ? { recovery } : {}),
      table,
      sustained,
      ...(best ? { best } : {}),
    };
  } catch (error) {
    killGroup(pid);
    throw error;
  }
}
