import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient, loadSchema, valueSubject } from '../../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../../common/kafka.ts';
import type { ReactionRecord } from '../../common/records.ts';
import { createJob, type JobLauncher } from './control/job-launcher.ts';
import { loadJob, resolvePlan } from './control/job-plan.ts';
import { type Row, readRows } from './control/job-test.ts';
import { type JobsConfig, loadJobsConfig } from './control/jobs-config.ts';
import { isAlive, killGroup, readProgress, readStatus } from './control/run-dir.ts';
import { type AggregateReader, aggregateKey, readAggregates } from './control/stream-fixtures.ts';

// emoji-swarm on Flink (local mini-cluster from the provisioned PyFlink) against the test stack's real Kafka and
// registry: the job's own fixtures, produced as registry-framed reactions, must give its own expected rows on the
// aggregates topic, in aggregate.avsc under the id the registry holds, keyed by the row; then a SIGKILL and a
// restore from the last checkpoint must keep every total exact.
const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const id = randomUUID().slice(0, 8);
const topics = { reactions: `it.flink.reactions.${id}`, aggregates: `it.flink.aggregates.${id}` };

let stateDir: string;
let config: JobsConfig;
let aggregates: AggregateReader;
let send: (records: ReactionRecord[]) => Promise<void>;
let closeProducer: () => Promise<void>;
const launched: number[] = [];

/** The job's fixtures as reactions, as the batch runners read them: `repeat` taps, a fresh event id unless named. */
async function fixtureReactions(file: string, copy: string): Promise<ReactionRecord[]> {
  const out: ReactionRecord[] = [];
  for (const f of await readRows(file)) {
    const ts = Date.parse(String(f.ingest_ts));
    for (let i = 0; i < Number(f.repeat ?? 1); i++) {
      out.push({
        event_id: f.event_id ? `${f.event_id}-${copy}` : randomUUID(),
        match_id: String(f.match_id),
        user_id: `u${out.length % 5000}`,
        emoji: String(f.emoji),
        client_ts: ts,
        ingest_ts: ts,
      });
    }
  }
  return out;
}

async function start(): Promise<JobLauncher> {
  const job = createJob(await resolvePlan(await loadJob('emoji-swarm'), config, 'flink'), { config });
  const s = await job.start({ timeoutMs: 280_000 });
  launched.push(s.meta.launcherPid);
  return job;
}

const latestRows = () =>
  new Map(
    [...aggregates.latest].map(([k, r]) => [
      k,
      { count: r.count, swarm: r.swarm, window_end: new Date(r.window_end).toISOString() },
    ]),
  );

function expectedMap(rows: Row[], times = 1) {
  return new Map(
    rows.map((r) => [
      aggregateKey({
        match_id: String(r.match_id),
        window_start: Date.parse(String(r.window_start)),
        emoji: String(r.emoji),
      }),
      {
        count: Number(r.count) * times,
        swarm: Math.max(1, Math.floor((Number(r.count) * times) / 1000)),
        window_end: String(r.window_end),
      },
    ]),
  );
}

const sameRows = (a: Map<string, unknown>, b: Map<string, unknown>) =>
  a.size === b.size && [...b].every(([k, v]) => JSON.stringify(a.get(k)) === JSON.stringify(v));

beforeAll(async () => {
  const kafka = createKafka({
    clientId: 'flink-it',
    brokers,
    logger: pino({ level: 'silent' }),
    logLevel: KafkaLogLevel.ERROR,
  });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic: topics.reactions, partitions: 1 });
  await admin.disconnect();
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'emostream-flink-it-'));
  config = loadJobsConfig({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    REACTIONS_TOPIC: topics.reactions,
    AGGREGATES_TOPIC: topics.aggregates,
    SPARK_JOBS_STATE: stateDir,
    FLINK_CHECKPOINT_INTERVAL: '2 seconds',
  });
  const producer = kafka.producer();
  await producer.connect();
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
    topic: topics.reactions,
    schema: await loadSchema('reaction'),
  });
  send = async (records) => {
    for (let i = 0; i < records.length; i += 5000) {
      const messages = records.slice(i, i + 5000).map((r) => ({ key: r.user_id, value: serde.encode(r) }));
      await producer.send({ topic: topics.reactions, acks: -1, messages });
    }
  };
  closeProducer = () => producer.disconnect();
});

afterAll(async () => {
  for (const pid of launched) if (isAlive(pid)) killGroup(pid);
  await aggregates?.close();
  await closeProducer?.();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('emoji-swarm on Flink, on Kafka', () => {
  let job: JobLauncher;
  let expectedRows: Row[];

  it("turns the job's fixtures into its expected rows: same schema id, the row as the key", async () => {
    job = await start();
    expectedRows = await readRows(job.plan.tests.expected);
    await send(await fixtureReactions(job.plan.tests.fixtures, 'a'));
    aggregates = await readAggregates(brokers, registryUrl, topics.aggregates);
    const expected = expectedMap(expectedRows);
    await aggregates.waitFor(() => sameRows(latestRows(), expected), 150_000, 'the expected rows');

    const registered = await createRegistryClient(registryUrl).getId(
      valueSubject(topics.aggregates),
      { schemaType: 'AVRO', schema: await loadSchema('aggregate') },
      false,
    );
    for (const { key, schemaId, row } of aggregates.all) {
      expect(schemaId).toBe(registered);
      // Flink's upsert sink keys a record by the row's identity (the yml's sink.upsert_key), as JSON.
      expect(JSON.parse(key ?? '{}')).toMatchObject({ match_id: row.match_id, emoji: row.emoji });
      expect(row.swarm).toBe(Math.max(1, Math.floor(row.count / 1000)));
      expect(row.window_end - row.window_start).toBe(2000);
      expect(Math.abs(row.emitted_at - Date.now())).toBeLessThan(300_000);
    }
    // job:status's source: progress lines with the rows read.
    let progress = await readProgress(job.paths, 1000);
    for (let i = 0; i < 40 && progress.reduce((n, p) => n + p.numInputRows, 0) < 8795; i++) {
      await new Promise((r) => setTimeout(r, 500));
      progress = await readProgress(job.paths, 1000);
    }
    expect(progress.reduce((n, p) => n + p.numInputRows, 0)).toBe(8795);
    expect((await job.status(1)).state).toBe('running');
  }, 300_000);

  it('keeps every total exact across a SIGKILL and a restore from the last checkpoint', async () => {
    await new Promise((r) => setTimeout(r, 5000)); // a checkpoint past the first phase
    const first = await job.status(1);
    const pid = first.meta?.launcherPid as number;
    await send(await fixtureReactions(job.plan.tests.fixtures, 'b').then((r) => r.slice(0, 4000)));
    killGroup(pid, 'SIGKILL');
    for (const t = Date.now(); isAlive(pid) && Date.now() - t < 30_000; )
      await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(pid)).toBe(false);
    // The rest of a second copy of the fixtures while the job is down: every total doubles.
    await send(await fixtureReactions(job.plan.tests.fixtures, 'b').then((r) => r.slice(4000)));

    job = await start();
    const restoredFrom = ((await readStatus(job.paths)) as { restoredFrom?: string } | undefined)
      ?.restoredFrom;
    expect(restoredFrom).toMatch(/chk-\d+$/);
    // The named redeliveries of the second copy carry ids of their own (`-b`): m4 counts 2 + 2.
    const expected = expectedMap(expectedRows, 2);
    await aggregates.waitFor(() => sameRows(latestRows(), expected), 150_000, 'doubled totals after restore');
    // A replay may repeat a total, never exceed it.
    for (const { row } of aggregates.all) {
      expect(row.count).toBeLessThanOrEqual(expected.get(aggregateKey(row))?.count ?? 0);
    }
    expect(await job.stop(60_000)).toBe(true);
    expect((await readStatus(job.paths))?.state).toBe('stopped');
  }, 400_000);
});
