/**
 * Ingest's promise that a Kafka broker restart mid-load loses nothing it acknowledged, against a real broker this
 * file starts itself (stopping the shared test broker would disturb the other files). Load runs throughout; the
 * broker is stopped with SIGTERM, kept down while ingest fills its buffer, then restarted on the same ports and
 * data dir. Afterwards every acknowledged reaction must be in the topic, decoded with the registered schema, and
 * nothing refused may be. Every request carries its own user id, so a record names the request that made it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import type { ReactionRecord } from '../common/records.ts';
import { prepareKafkaBroker } from '../infra/local/kafka-broker.ts';
import { freePort } from '../infra/local/ports.ts';
import { resolveRuntime } from '../infra/local/provisioner.ts';
import { type RunningService, type ServiceSpec, startService } from '../infra/local/supervisor.ts';
import { configWithDefaults } from './config.ts';
import { createIngest, type Ingest } from './ingest.ts';

const registryUrl = inject('registryUrl');
const host = '127.0.0.1';
const topic = `ingest-restart-${process.pid}-${Date.now()}`;
const PARTITIONS = 6;
/** Small enough that the outage fills it within seconds at the load below. */
const BUFFER_CAPACITY = 400;
/** One request per tick: about 65 requests/s, every fifth durable. */
const TICK_MS = 15;
const DURABLE_EVERY = 5;
/** Requests not answered by then count as unanswered (a durable one may wait out the whole outage). */
const REQUEST_TIMEOUT_MS = 60_000;

interface Outcome {
  seq: number;
  userId: string;
  durable: boolean;
  sentAt: number;
  answeredAt?: number;
  status?: number;
  eventId?: string;
  retryAfter?: string | null;
  problemType?: string;
  /** Set when no HTTP answer came (connection refused, reset, timeout). */
  error?: string;
}

const runDir = mkdtempSync(path.join(tmpdir(), 'emostream-broker-restart-'));
let brokerSpec: ServiceSpec | undefined;
let broker: RunningService | undefined;
let brokers = '';
let ingest: Ingest | undefined;
let base = '';
let load: Load | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true; throws with `what` once `timeoutMs` passed. */
async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface Load {
  readonly outcomes: Outcome[];
  /** Deepest ingest buffer seen, sampled once per tick. */
  readonly maxDepth: number;
  /** Stops sending and waits for every answer (or its timeout). */
  stop(): Promise<void>;
  /** Stops sending and aborts what is still open (cleanup after a failure). */
  abort(): void;
}

/** Open-loop load: one request per tick whatever the answers, so an outage shows as answers, not as a stall. */
function startLoad(url: string, runId: string, depth: () => number): Load {
  const outcomes: Outcome[] = [];
  let maxDepth = 0;
  const open = new Set<Promise<void>>();
  const aborter = new AbortController();
  let running = true;
  const post = async (o: Outcome) => {
    try {
      const res = await fetch(`${url}/v1/reactions${o.durable ? '?durable=true' : ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ match_id: 'restart', user_id: o.userId, emoji: '🔥', timestamp: Date.now() }),
        signal: AbortSignal.any([aborter.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      const body = (await res.json()) as { event_id?: string; type?: string };
      o.status = res.status;
      o.eventId = body.event_id;
      o.problemType = body.type;
      o.retryAfter = res.headers.get('retry-after');
    } catch (err) {
      o.error = (err as Error).message;
    }
    o.answeredAt = Date.now();
  };
  const loop = (async () => {
    for (let seq = 0; running; seq++) {
      const o: Outcome = {
        seq,
        userId: `${runId}-${seq}`,
        durable: seq % DURABLE_EVERY === DURABLE_EVERY - 1,
        sentAt: Date.now(),
      };
      outcomes.push(o);
      const p = post(o).finally(() => open.delete(p));
      open.add(p);
      maxDepth = Math.max(maxDepth, depth());
      await sleep(TICK_MS);
    }
  })();
  return {
    outcomes,
    get maxDepth() {
      return maxDepth;
    },
    async stop() {
      running = false;
      await loop;
      await Promise.all(open);
    },
    abort() {
      running = false;
      aborter.abort();
    },
  };
}

/** Reads the whole topic (up to the high watermarks) and decodes it with the registered schema. */
async function readTopic(): Promise<ReactionRecord[]> {
  const kafka = createKafka({
    clientId: 'broker-restart-reader',
    brokers,
    logger: pino({ level: 'silent' }),
    logLevel: KafkaLogLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = offsets.reduce((sum, p) => sum + Number(p.high), 0);
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('reaction'),
    register: false,
  });
  const consumer = kafka.consumer({ groupId: `broker-restart-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const out: ReactionRecord[] = [];
    if (total === 0) return out;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${total} records`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            out.push(await serde.deserialize(message.value as Buffer));
            if (out.length >= total) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return out;
  } finally {
    await consumer.disconnect();
  }
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

beforeAll(async () => {
  const runtime = await resolveRuntime();
  const port = await freePort(host);
  let controllerPort = await freePort(host);
  while (controllerPort === port) controllerPort = await freePort(host);
  brokers = `${host}:${port}`;
  brokerSpec = await prepareKafkaBroker(runtime, runDir, { host, port, controllerPort, heap: '384m' });
  broker = await startService(brokerSpec, runDir);
  await ensureTopic(
    createKafka({ clientId: 'broker-restart-admin', brokers, logger: pino({ level: 'warn' }) }),
    { topic, partitions: PARTITIONS, replicationFactor: 1 },
    { exactPartitions: true },
  );

  ingest = createIngest(
    configWithDefaults({
      kafkaBrokers: [brokers],
      schemaRegistryUrl: registryUrl,
      port: 0,
      topic,
      bufferCapacity: BUFFER_CAPACITY,
      maxBatchSize: 50,
      maxInFlight: 4,
      flushIntervalMs: 20,
      rateLimitPerSec: 0,
      drainTimeoutMs: 10_000,
    }),
    { logger: pino({ level: 'silent' }) },
  );
  const { port: ingestPort } = await ingest.start();
  base = `http://${host}:${ingestPort}`;
});

afterAll(async () => {
  load?.abort();
  try {
    await ingest?.stop();
  } finally {
    await broker?.stop();
    if (!process.env.EMOSTREAM_KEEP_RUN_DIR) rmSync(runDir, { recursive: true, force: true });
  }
});

describe('ingest across a Kafka broker restart (own broker, real registry)', () => {
  it('keeps every acknowledged reaction, stores nothing it refused, and answers 503 with Retry-After when full', async ({
    annotate,
  }) => {
    const started = Date.now();
    const i = ingest as Ingest;
    const running = startLoad(base, `br${started.toString(36)}`, () => i.bufferDepth);
    load = running;
    const { outcomes } = running;
    const acked = (o: Outcome) => o.status === 202 || o.status === 200;

    await until(
      '100 acknowledged reactions before the outage',
      15_000,
      () => outcomes.filter(acked).length >= 100,
    );

    const stopping = Date.now();
    await (broker as RunningService).stop();
    const down = Date.now();
    const depthAtDown = i.bufferDepth;

    // Ingest notices: readiness turns 503 and, with Kafka gone, the buffer fills until it refuses with 503.
    await until('/ready to answer 503 during the outage', 20_000, async () => {
      const res = await fetch(`${base}/ready`);
      await res.body?.cancel();
      return res.status === 503;
    });
    await until('the buffer to fill (503 buffer-full) during the outage', 20_000, () =>
      outcomes.some((o) => o.sentAt >= down && o.status === 503),
    );
    // Keep the outage going a little longer than it took to fill, so refusals pile up too.
    await sleep(1000);

    const restarting = Date.now();
    broker = await startService(brokerSpec as ServiceSpec, runDir);
    const up = Date.now();

    await until(
      '50 reactions acknowledged after the restart',
      30_000,
      () => outcomes.filter((o) => o.sentAt >= up && acked(o)).length >= 50,
    );
    await running.stop();
    await until('the buffer to drain', 30_000, () => i.bufferDepth === 0);
    const produceErrors = await metric('ingest_produce_errors_total');

    const records = await readTopic();
    const byUser = new Map<string, ReactionRecord[]>();
    for (const r of records) {
      const list = byUser.get(r.user_id) ?? [];
      list.push(r);
      byUser.set(r.user_id, list);
    }

    const ackedOutcomes = outcomes.filter(acked);
    const refused = outcomes.filter((o) => o.status !== undefined && o.status >= 400);
    const unanswered = outcomes.filter((o) => o.status === undefined);
    const unexpected = outcomes.filter((o) => o.status !== undefined && !acked(o) && o.status !== 503);
    const missing = ackedOutcomes.filter((o) => !byUser.has(o.userId));
    const wrongEvent = ackedOutcomes.filter((o) =>
      byUser.get(o.userId)?.some((r) => r.event_id !== o.eventId),
    );
    const storedRefused = refused.filter((o) => byUser.has(o.userId));
    const known = new Set(outcomes.map((o) => o.userId));
    const strangers = records.filter((r) => !known.has(r.user_id));
    const duplicates = records.length - byUser.size;

    const inOutage = outcomes.filter((o) => o.sentAt >= down && o.sentAt < up);
    const outageAccepted = inOutage.filter((o) => o.status === 202);
    const outageFull = inOutage.filter((o) => o.status === 503);
    const durableOutage = inOutage.filter((o) => o.durable && o.status === 200);
    // Nothing can leave the buffer while the broker is down, so what it took then is bounded by its capacity.
    const acceptedWhileDown = outcomes.filter((o) => o.sentAt >= down && o.sentAt < restarting && acked(o));
    const count = (os: Outcome[], status: number) => os.filter((o) => o.status === status).length;
    const summary =
      `${outcomes.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
      `(broker stopped ${down - stopping} ms, down ${up - down} ms incl. ${up - restarting} ms restart; ` +
      `buffer ${depthAtDown} at stop, ${running.maxDepth} at most): ` +
      `${count(outcomes, 202)}×202, ${count(outcomes, 200)}×200 durable, ${count(outcomes, 503)}×503, ` +
      `${unanswered.length} unanswered; outage: ${inOutage.length} sent, ${outageAccepted.length}×202, ` +
      `${outageFull.length}×503, ${durableOutage.length} durable stored; topic ${records.length} records, ` +
      `${duplicates} duplicates; ${produceErrors} failed sends`;

    await annotate(summary);

    // The outage really happened and ingest saw it (its readiness also turned 503 above), so this test can fail.
    expect(produceErrors, summary).toBeGreaterThan(0);
    expect(outageAccepted.length, `202 while the buffer had room; ${summary}`).toBeGreaterThan(0);
    expect(outageFull.length, `503 once it was full; ${summary}`).toBeGreaterThan(0);
    for (const o of outcomes.filter((x) => x.status === 503)) {
      expect(o.problemType, summary).toBe('urn:emostream:problem:buffer-full');
      expect(Number(o.retryAfter), summary).toBeGreaterThanOrEqual(1);
    }
    expect(running.maxDepth, summary).toBeLessThanOrEqual(BUFFER_CAPACITY);
    expect(acceptedWhileDown.length, summary).toBeLessThanOrEqual(BUFFER_CAPACITY);
    // A durable answer during the outage can only come once the broker is back.
    expect(durableOutage.length, `durable requests stored across the outage; ${summary}`).toBeGreaterThan(0);
    for (const o of durableOutage) expect(o.answeredAt, summary).toBeGreaterThanOrEqual(restarting);

    expect(
      unanswered.map((o) => `${o.userId}: ${o.error}`),
      summary,
    ).toEqual([]);
    expect(
      unexpected.map((o) => `${o.userId}: ${o.status} ${o.problemType}`),
      summary,
    ).toEqual([]);
    expect(
      missing.map((o) => `${o.userId} (${o.status}, sent +${o.sentAt - started} ms)`),
      summary,
    ).toEqual([]);
    expect(
      wrongEvent.map((o) => o.userId),
      summary,
    ).toEqual([]);
    expect(
      storedRefused.map((o) => `${o.userId} (${o.status})`),
      summary,
    ).toEqual([]);
    expect(
      strangers.map((r) => r.user_id),
      summary,
    ).toEqual([]);
    expect(byUser.size, summary).toBe(ackedOutcomes.length);
    for (const r of records) expect(r.emoji, summary).toBe('🔥');
  });
});
