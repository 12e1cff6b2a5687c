import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRegistryClient, loadSchema, valueSubject } from '../../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../../common/kafka.ts';
import { type JobDefinition, loadJob, resolvePlan } from './control/job-plan.ts';
import { type JobsConfig, loadJobsConfig } from './control/jobs-config.ts';
import { isAlive, killGroup, offsetsBehind, readProgress, readStatus } from './control/run-dir.ts';
import { createSparkJob, type SparkJob, type Started } from './control/spark-job.ts';
import {
  type AggregateReader,
  createReactionProducer,
  expectedCounts,
  matchesExpected,
  type ReactionRun,
  readAggregates,
} from './control/stream-fixtures.ts';

// Real Kafka + registry from the test stack, real Spark (local[2]) from the provisioned runtime. Three spark-submits
// in the whole file: Spark starts slowly on two cores.
const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const spark = inject('spark');
const id = randomUUID().slice(0, 8);
const topics = {
  reactions: `it.reactions.${id}`,
  aggregates: `it.aggregates.${id}`,
  aggregates5s: `it.agg5s.${id}`,
};

// Event time is the ingest timestamp we stamp: a fixed, window-aligned instant makes every window known in advance.
const B = Date.UTC(2026, 0, 1, 12, 0, 0);
const phaseA: ReactionRun[] = [
  { match: 'm1', emoji: '🔥', ts: B, n: 2 },
  { match: 'm1', emoji: '🔥', ts: B + 1999, n: 1 }, // last ms of [B, B+2 s)
  { match: 'm1', emoji: '👏', ts: B + 4500, n: 3785 }, // swarm 3
  { match: 'm2', emoji: '🔥', ts: B + 100, n: 1000 }, // swarm 1
  { match: 'm2', emoji: '❤️', ts: B + 3000, n: 1001 }, // swarm 1
];
// Produced around the crash: the first part just before it, the rest while the job is down.
const phaseB1: ReactionRun[] = [
  { match: 'm1', emoji: '🔥', ts: B + 1500, n: 997 }, // back into an already emitted window: 3 → 1000
  { match: 'm2', emoji: '👍', ts: B + 6000, n: 1500 },
];
const phaseB2: ReactionRun[] = [
  { match: 'm2', emoji: '👍', ts: B + 7999, n: 500 }, // 2000 in [B+6 s, B+8 s): swarm 2
  { match: 'm3', emoji: '😂', ts: B + 9000, n: 999 },
  { match: 'm3', emoji: '😂', ts: B + 10_000, n: 1 }, // first ms of the next window
];

let stateDir: string;
let config: JobsConfig;
let job: JobDefinition;
let producer: Awaited<ReturnType<typeof createReactionProducer>>;
let aggregates: AggregateReader;
const launched: number[] = [];

async function submit(cfg: JobsConfig, j: JobDefinition): Promise<Started & { job: SparkJob }> {
  const sparkJob = createSparkJob(await resolvePlan(j, cfg), { config: cfg, runtime: spark });
  const s = await sparkJob.start({ waitRunning: false });
  launched.push(s.meta.launcherPid);
  for (const t = Date.now(); ; await new Promise((r) => setTimeout(r, 250))) {
    const { state, error } = await sparkJob.status(1);
    if (state === 'running') break;
    if (state !== 'starting' || Date.now() - t > 280_000) throw new Error(`job ${state}: ${error}`);
  }
  return { ...s, job: sparkJob };
}

beforeAll(async () => {
  await ensureTopic(
    createKafka({
      clientId: 'emoji-swarm-int-test',
      brokers,
      logger: pino({ level: 'silent' }),
      logLevel: KafkaLogLevel.ERROR,
    }),
    [
      { topic: topics.reactions, partitions: 3 },
      { topic: topics.aggregates, partitions: 2 },
      { topic: topics.aggregates5s, partitions: 2 },
    ],
  );
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'emostream-spark-it-'));
  config = loadJobsConfig({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    REACTIONS_TOPIC: topics.reactions,
    AGGREGATES_TOPIC: topics.aggregates,
    SPARK_JOBS_STATE: stateDir,
  });
  job = await loadJob('emoji-swarm');
  producer = await createReactionProducer(brokers, registryUrl, topics.reactions);
});

afterAll(async () => {
  for (const pid of launched) if (isAlive(pid)) killGroup(pid);
  await aggregates?.close();
  await producer?.close();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('emoji-swarm on Kafka', () => {
  let first: Awaited<ReturnType<typeof submit>>;

  it('turns reactions with known ingest times into exact per-window counts, keyed by match, in the registered schema', async () => {
    first = await submit(config, job);
    expect(first.resumed).toBe(false);
    expect(path.basename(first.meta.checkpoint)).toMatch(/^emoji-swarm-[0-9a-f]{12}$/);
    await producer.send(phaseA);
    aggregates = await readAggregates(brokers, registryUrl, topics.aggregates);
    const expected = expectedCounts(phaseA, 2000);
    await aggregates.waitFor(() => matchesExpected(aggregates.latest, expected), 120_000, 'phase A counts');

    const fire = aggregates.latest.get(`m1|${new Date(B + 4000).toISOString()}|👏`);
    expect(fire).toMatchObject({ count: 3785, swarm: 3, window_end: B + 6000 });
    expect(aggregates.latest.get(`m2|${new Date(B).toISOString()}|🔥`)).toMatchObject({
      count: 1000,
      swarm: 1,
    });
    expect(aggregates.latest.get(`m2|${new Date(B + 2000).toISOString()}|❤️`)).toMatchObject({
      count: 1001,
      swarm: 1,
    });
    expect(aggregates.latest.get(`m1|${new Date(B).toISOString()}|🔥`)).toMatchObject({ count: 3, swarm: 1 });

    // Registry framing with the id the registry holds for aggregate.avsc on the sink subject; key = match_id.
    const registered = await createRegistryClient(registryUrl).getId(
      valueSubject(topics.aggregates),
      { schemaType: 'AVRO', schema: await loadSchema('aggregate') },
      false,
    );
    for (const { key, schemaId, row } of aggregates.all) {
      expect(schemaId).toBe(registered);
      expect(key).toBe(row.match_id);
      expect(row.window_end - row.window_start).toBe(2000);
      expect(row.swarm).toBe(Math.max(1, Math.floor(row.count / 1000)));
    }

    // job:status's source: the runner's progress, with Kafka offsets.
    // The runner polls Spark's progress every second, so it may trail the sink by a moment.
    const total = phaseA.reduce((n, r) => n + r.n, 0);
    let progress = await readProgress(first.paths, 1000);
    for (let i = 0; i < 40 && progress.reduce((n, p) => n + p.numInputRows, 0) < total; i++) {
      await new Promise((r) => setTimeout(r, 250));
      progress = await readProgress(first.paths, 1000);
    }
    expect(progress.reduce((n, p) => n + p.numInputRows, 0)).toBe(total);
    expect(offsetsBehind(progress.at(-1) as (typeof progress)[number])).toBe(0);
  }, 300_000);

  it('keeps every final count exact when the job is killed mid-stream and resubmitted', async () => {
    await producer.send(phaseB1);
    await new Promise((r) => setTimeout(r, 1500)); // let a micro-batch pick part of it up
    killGroup(first.meta.launcherPid, 'SIGKILL'); // a crash: no graceful stop, no final commit
    const deadline = Date.now() + 30_000;
    while (isAlive(first.meta.launcherPid) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(first.meta.launcherPid)).toBe(false);
    await producer.send(phaseB2);

    const again = await submit(config, job);
    expect(again.resumed).toBe(true);
    expect(again.meta.checkpoint).toBe(first.meta.checkpoint);
    const all = [...phaseA, ...phaseB1, ...phaseB2];
    const expected = expectedCounts(all, 2000);
    await aggregates.waitFor(
      () => matchesExpected(aggregates.latest, expected),
      180_000,
      'final counts after resubmit',
    );
    expect(aggregates.latest.get(`m1|${new Date(B).toISOString()}|🔥`)).toMatchObject({
      count: 1000,
      swarm: 1,
    });
    expect(aggregates.latest.get(`m2|${new Date(B + 6000).toISOString()}|👍`)).toMatchObject({
      count: 2000,
      swarm: 2,
    });
    // A replayed batch may repeat a row, but never with more than the true total: nothing is double counted.
    for (const { row } of aggregates.all) {
      const key = `${row.match_id}|${new Date(row.window_start).toISOString()}|${row.emoji}`;
      expect(row.count).toBeLessThanOrEqual(expected.get(key) ?? 0);
    }

    // Graceful stop: the runner reports stopped and exits; the launcher is gone.
    expect(await again.job.stop(90_000)).toBe(true);
    expect((await readStatus(again.paths))?.state).toBe('stopped');
  }, 400_000);

  it('starts a new checkpoint when the window is edited, and recounts in the new windows', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'emostream-edited-job-'));
    try {
      const edited = path.join(dir, 'emoji-swarm.yml');
      const text = readFileSync(job.file, 'utf8').replace(
        'window: { type: interval, value: 2 seconds }',
        'window: { type: interval, value: 5 seconds }',
      );
      await writeFile(edited, text);
      await writeFile(path.join(dir, 'emoji-swarm.sql'), job.text);
      // The job lists Flink too: its query must be there for the job to load (only Spark runs here).
      await writeFile(path.join(dir, 'emoji-swarm.flink.sql'), job.queries.flink?.text ?? '');
      const editedJob = await loadJob(edited);
      expect(editedJob.params.window?.value).toBe('5 seconds');

      const before = readdirSync(path.join(first.meta.checkpoint, 'offsets')).sort();
      const cfg5 = { ...config, topics: { ...config.topics, aggregates: topics.aggregates5s } };
      const run = await submit(cfg5, editedJob);
      expect(run.resumed).toBe(false);
      expect(run.meta.checkpoint).not.toBe(first.meta.checkpoint);
      expect(path.basename(run.meta.checkpoint)).toMatch(/^emoji-swarm-[0-9a-f]{12}$/);
      expect(run.otherShapes).toContain(first.meta.checkpoint);

      const rows5 = await readAggregates(brokers, registryUrl, topics.aggregates5s);
      try {
        const expected = expectedCounts([...phaseA, ...phaseB1, ...phaseB2], 5000);
        await rows5.waitFor(() => matchesExpected(rows5.latest, expected), 180_000, '5-second window counts');
        for (const { row } of rows5.all) expect(row.window_end - row.window_start).toBe(5000);
      } finally {
        await rows5.close();
      }
      expect(await run.job.stop(90_000)).toBe(true);
      // The old checkpoint was not touched by the new shape.
      expect(readdirSync(path.join(first.meta.checkpoint, 'offsets')).sort()).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 400_000);
});
