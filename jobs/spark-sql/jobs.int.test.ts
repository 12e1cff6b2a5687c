import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient } from '../../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../../common/kafka.ts';
import { createJob } from './control/job-launcher.ts';
import { type Engine, loadJob, loadJobsList, loadPlan } from './control/job-plan.ts';
import { diffRows, formatDiff, isEmptyDiff, type Row, readRows } from './control/job-test.ts';
import { loadJobsConfig } from './control/jobs-config.ts';
import {
  isAlive,
  killGroup,
  type RunPaths,
  readProgress,
  runPaths,
  type StreamingProgress,
} from './control/run-dir.ts';
import { createSparkDriver, type SparkDriver } from './control/spark-job.ts';

// Every job of the jobs list on every engine it lists, generically (no code per job or engine): its fixtures
// streamed through real Kafka and the engine (Spark local[2], every Spark job in one driver as npm start runs them;
// Flink's local mini-cluster, a runner per job) must give its expected
// rows, read back from its sink topic in its sink schema. Jobs that declare a dedupe key get every record written
// twice and must still count each once; on Spark their state must shrink once the watermark passes the fixtures
// (Flink's progress carries no state sizes; its dedupe state is bounded by a processing-time TTL instead).
const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const spark = inject('spark');
const id = randomUUID().slice(0, 8);
const HOUR = 3_600_000;

interface AvroField {
  name: string;
  type: unknown;
}
const fieldsOf = (schema: string) => (JSON.parse(schema) as { fields: AvroField[] }).fields;
const isTimestamp = (t: unknown): boolean =>
  Array.isArray(t)
    ? t.some(isTimestamp)
    : typeof t === 'object' &&
      t !== null &&
      (t as { logicalType?: string }).logicalType === 'timestamp-millis';
const baseType = (t: unknown): string =>
  Array.isArray(t)
    ? baseType(t.find((x) => x !== 'null'))
    : typeof t === 'object'
      ? baseType((t as { type: unknown }).type)
      : String(t);

/**
 * Fixture rows as source records, filled in as the runner's batch mode does: a missing timestamp is the event time,
 * a missing dedupe key a fresh uuid per event, any other missing field its type's zero (Avro has no absent field).
 */
function fixtureRecords(
  rows: Row[],
  schema: string,
  eventTime: string,
  dedupe: string[],
): Record<string, unknown>[] {
  const fields = fieldsOf(schema);
  return rows.flatMap((row) =>
    Array.from({ length: Number(row.repeat ?? 1) }, () => {
      const at = Date.parse(String(row[eventTime]));
      return Object.fromEntries(
        fields.map((f) => {
          const v = row[f.name];
          if (isTimestamp(f.type)) return [f.name, v === undefined ? at : Date.parse(String(v))];
          if (v !== undefined) return [f.name, v];
          if (dedupe.includes(f.name)) return [f.name, randomUUID()];
          return [f.name, baseType(f.type) === 'string' ? '' : 0];
        }),
      );
    }),
  );
}

const launched: number[] = [];
let stateDir: string;
const kafka = createKafka({
  clientId: 'jobs-int-test',
  brokers,
  logger: pino({ level: 'silent' }),
  logLevel: KafkaLogLevel.ERROR,
});

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'emostream-jobs-it-'));
});

afterAll(async () => {
  for (const pid of launched) if (isAlive(pid)) killGroup(pid);
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

const PARTITIONS = 3;
const runs = await Promise.all(
  loadJobsList().map(async (name) => (await loadJob(name)).engines.map((engine) => [name, engine] as const)),
);

/** A job's topics and configuration: its own source and sink topics, all under one state dir per engine. */
async function jobSetup(name: string, engine: Engine) {
  const defaults = await loadPlan(name, loadJobsConfig({}), engine);
  const source = `it.jobs.${id}.${name}.${engine}.${defaults.source.logical}`;
  const sink = `it.jobs.${id}.${name}.${engine}.${defaults.sink.logical}`;
  const config = loadJobsConfig({
    KAFKA_BROKERS: brokers,
    SCHEMA_REGISTRY_URL: registryUrl,
    SPARK_JOBS_STATE: path.join(stateDir, engine),
    [`${defaults.source.logical.toUpperCase()}_TOPIC`]: source,
    [`${defaults.sink.logical.toUpperCase()}_TOPIC`]: sink,
  });
  const plan = await loadPlan(name, config, engine);
  await ensureTopic(kafka, { topic: source, partitions: PARTITIONS });
  return { config, plan, source, sink };
}

/** A job's view of its launcher: its own status and run dir, and the stop of whatever runs it. */
interface RunningJob {
  paths: RunPaths;
  status(n: number): Promise<{ state: string; error?: string }>;
  stop(timeoutMs: number): Promise<unknown>;
}

// The Spark jobs run as npm start runs them: every one in one driver (createSparkDriver), each its own query,
// checkpoint and topics. Started once, by the first Spark test; stopped after all.
const sparkJobs = runs.flat().filter(([, engine]) => engine === 'spark');
let sharedDriver: Promise<{ driver: SparkDriver; setups: Map<string, Awaited<ReturnType<typeof jobSetup>>> }>;
function sparkDriver() {
  sharedDriver ??= (async () => {
    const setups = new Map(
      await Promise.all(sparkJobs.map(async ([name]) => [name, await jobSetup(name, 'spark')] as const)),
    );
    const [first] = setups.values();
    if (!first) throw new Error('no Spark job in the jobs list');
    const driver = createSparkDriver(
      [...setups.values()].map((s) => s.plan),
      { config: first.config, runtime: spark },
    );
    const started = await driver.start();
    launched.push(started.meta.launcherPid);
    return { driver, setups };
  })();
  return sharedDriver;
}
afterAll(async () => {
  if (sharedDriver) await (await sharedDriver).driver.stop(90_000);
}, 120_000);

describe('the Spark jobs in one driver', () => {
  it('run as one process, each with its own checkpoint, status and run dir', async () => {
    expect(sparkJobs.length).toBeGreaterThan(1);
    const { driver, setups } = await sparkDriver();
    const statuses = await driver.statuses(1);
    expect(statuses.map((s) => [s.job, s.state])).toEqual(sparkJobs.map(([name]) => [name, 'running']));
    const pids = new Set(statuses.map((s) => s.meta?.launcherPid));
    expect(pids.size).toBe(1);
    expect(statuses.map((s) => s.meta?.driverJobs)).toEqual(statuses.map(() => sparkJobs.map(([n]) => n)));
    const checkpoints = [...setups.values()].map((s) => s.plan.checkpoint);
    expect(new Set(checkpoints).size).toBe(checkpoints.length);
  }, 300_000);
});

describe.each(runs.flat())('%s on Kafka and %s', (name, engine: Engine) => {
  it('turns its fixtures into its expected rows; a dedupe job counts a record written twice once, with bounded state', async () => {
    let setup: Awaited<ReturnType<typeof jobSetup>>;
    let job: RunningJob;
    if (engine === 'spark') {
      const shared = await sparkDriver();
      setup = shared.setups.get(name) as Awaited<ReturnType<typeof jobSetup>>;
      const index = sparkJobs.findIndex(([n]) => n === name);
      job = {
        paths: runPaths(setup.config, name),
        status: async (n) => (await shared.driver.statuses(n))[index] as { state: string },
        // The shared driver stops after every test.
        stop: async () => {},
      };
    } else {
      setup = await jobSetup(name, engine);
      const own = createJob(setup.plan, { config: setup.config, runtime: spark });
      const started = await own.start({ waitRunning: false });
      launched.push(started.meta.launcherPid);
      job = own;
    }
    const { plan, source, sink } = setup;
    for (const t = Date.now(); ; await new Promise((r) => setTimeout(r, 500))) {
      const { state, error } = await job.status(1);
      if (state === 'running') break;
      if (state !== 'starting' || Date.now() - t > 280_000) throw new Error(`${name} ${state}: ${error}`);
    }

    const fixtures = await readRows(plan.tests.fixtures);
    const records = fixtureRecords(fixtures, plan.source.schema, plan.source.eventTime, plan.source.dedupe);
    const serde = await createAvroSerde<Record<string, unknown>>(createRegistryClient(registryUrl), {
      topic: source,
      schema: plan.source.schema,
    });
    const producer = kafka.producer();
    await producer.connect();
    const send = (rs: Record<string, unknown>[], to?: number) =>
      producer.send({
        topic: source,
        acks: -1,
        messages: rs.map((r) => ({ value: serde.encode(r), ...(to === undefined ? {} : { partition: to }) })),
      });
    // A sentinel far ahead in event time advances the watermark past every fixture window: append-mode windows
    // close (their rows are written), and every job's state for the fixtures is due for eviction. One per
    // partition: Spark's watermark follows the newest event of any partition, Flink's the oldest partition's.
    const last = Math.max(...records.map((r) => Number(r[plan.source.eventTime])));
    let partition = 0;
    const sentinel = (offset: number) => {
      const row: Row = {
        ...fixtures.at(-1),
        [plan.source.eventTime]: new Date(last + offset).toISOString(),
        repeat: 1,
      };
      for (const k of plan.source.dedupe) row[k] = `sentinel-${offset}-${partition}`;
      return fixtureRecords([row], plan.source.schema, plan.source.eventTime, plan.source.dedupe);
    };
    const sendSentinels = async () => {
      for (const offset of [HOUR, HOUR + 1000]) {
        for (partition = 0; partition < PARTITIONS; partition++) await send(sentinel(offset), partition);
        await new Promise((r) => setTimeout(r, 3000));
      }
    };

    await send(records);
    // Redelivery: the same records (same event ids) once more, as a retried producer batch would write them.
    if (plan.source.dedupe.length > 0) await send(records);
    if (plan.sink.outputMode === 'append') await sendSentinels();

    // Latest row per key (the first unique data test's columns), as a consumer keeping the newest would see.
    const sinkFields = fieldsOf(plan.sink.schema);
    const keyCols =
      (await loadJob(name)).spec.tests.data.find((t): t is { unique: string[] } => 'unique' in t)?.unique ??
      [];
    expect(keyCols.length, `${name}.yml declares no unique data test to key its rows by`).toBeGreaterThan(0);
    const latest = new Map<string, Row>();
    const sinkSerde = await createAvroSerde<Record<string, unknown>>(createRegistryClient(registryUrl), {
      topic: sink,
      schema: plan.sink.schema,
      register: false,
    });
    const consumer = kafka.consumer({ groupId: `it-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: sink, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const rec = await sinkSerde.deserialize(message.value);
        const row: Row = {};
        for (const f of sinkFields) {
          if (plan.tests.ignoreColumns.includes(f.name)) continue;
          const v = rec[f.name];
          row[f.name] = isTimestamp(f.type) ? new Date(Number(v)).toISOString() : (v as Row[string]);
        }
        latest.set(JSON.stringify(keyCols.map((k) => row[k])), row);
      },
    });
    const expected = await readRows(plan.tests.expected);
    try {
      const deadline = Date.now() + 180_000;
      let diff = diffRows(expected, [...latest.values()]);
      while (!isEmptyDiff(diff) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        diff = diffRows(expected, [...latest.values()]);
      }
      expect(isEmptyDiff(diff), `${name}: rows on ${sink} (- expected, + actual)\n${formatDiff(diff)}`).toBe(
        true,
      );

      // Bounded state: once the watermark passes the fixtures, the state of every operator (windows, dedupe keys)
      // is evicted; what is left belongs to the sentinels alone.
      if (engine !== 'spark') return;
      if (plan.sink.outputMode !== 'append') await sendSentinels();
      const distinct = new Set(records.map((r) => JSON.stringify(plan.source.dedupe.map((k) => r[k])))).size;
      let progress: StreamingProgress[] = [];
      const evicted = (p: StreamingProgress) =>
        (p.stateOperators ?? []).length > 0 &&
        (p.stateOperators ?? []).every((op) => (op.numRowsTotal ?? 0) <= 10);
      for (let t = Date.now(); Date.now() - t < 60_000; ) {
        progress = await readProgress(job.paths, 1000);
        if (progress.length > 0 && evicted(progress.at(-1) as StreamingProgress)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      const peak = (op: number) =>
        Math.max(...progress.map((p) => p.stateOperators?.[op]?.numRowsTotal ?? 0));
      const ops = progress.at(-1)?.stateOperators ?? [];
      expect(ops.length).toBeGreaterThan(0);
      expect(evicted(progress.at(-1) as StreamingProgress), JSON.stringify(ops)).toBe(true);
      if (plan.source.dedupe.length > 0) {
        const dedupe = ops.findIndex((op) => /dedupe/i.test(op.operatorName ?? ''));
        expect(
          dedupe,
          `no dedupe operator in ${JSON.stringify(ops.map((o) => o.operatorName))}`,
        ).toBeGreaterThanOrEqual(0);
        // It did hold one key per distinct event before the watermark passed them.
        expect(
          peak(dedupe),
          JSON.stringify(
            progress.map((p) => [
              p.batchId,
              p.numInputRows,
              (p.stateOperators ?? []).map((o) => o.numRowsTotal),
            ]),
          ),
        ).toBeGreaterThanOrEqual(distinct);
      }
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await job.stop(90_000);
    }
  }, 600_000);
});
