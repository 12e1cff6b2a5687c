/**
 * Ingest's send-path error model against the real broker and registry of the test stack (topic-level configs
 * only, on topics of its own, so other files are not disturbed), through the real producer thread:
 *
 * - retry path: a refusal an operator can fix (the topic is missing until it is created) holds every reaction,
 *   durable waiters included, until it is fixed; then all land, none twice, nothing is dead-lettered;
 * - split and poison path: a max.message.bytes that refuses every batch of two or more reactions and every
 *   reaction with long ids on its own, but takes a normal reaction: the batches are halved until the refused
 *   reactions are isolated; those are in the dead-letter file and the metric, their durable waiters got a 500
 *   `reaction-not-stored`, every other reaction landed exactly once, and ingest keeps answering afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import type { ReactionRecord } from '../common/records.ts';
import { configWithDefaults, type IngestConfig } from './config.ts';
import { DEAD_LETTER_FILE, type DeadLetterEntry } from './dead-letter-file.ts';
import { createIngest, type Ingest } from './ingest.ts';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const run = `${process.pid}-${Date.now()}`;
const silent = pino({ level: 'silent' });
const kafka = createKafka({
  clientId: 'dead-letter-int',
  brokers,
  logger: silent,
  logLevel: KafkaLogLevel.NOTHING,
});
const admin = kafka.admin();
const dataDir = mkdtempSync(path.join(tmpdir(), 'emostream-dead-letter-int-'));
const topics: string[] = [];
const running: Ingest[] = [];
const PARTITIONS = 3;

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
type Json = any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  await admin.connect();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});
afterAll(async () => {
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
});

async function createTopic(name: string, configs: Record<string, string>): Promise<string> {
  const topic = `${name}-${run}`;
  topics.push(topic);
  await ensureTopic(admin, { topic, partitions: PARTITIONS, replicationFactor: 1, configs });
  return topic;
}

/** Sets (replaces) the topic-level configs; `{}` restores the broker defaults. */
async function setTopicConfig(topic: string, configs: Record<string, string>): Promise<void> {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
  });
}

async function topicCount(topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

/** Every record of the topic, decoded with the registered schema. */
async function readAll(topic: string): Promise<ReactionRecord[]> {
  const total = await topicCount(topic);
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('reaction'),
    register: false,
  });
  const out: ReactionRecord[] = [];
  if (total === 0) return out;
  const consumer = kafka.consumer({ groupId: `dead-letter-reader-${Date.now()}`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
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

async function startIngest(topic: string, overrides: Partial<IngestConfig> = {}) {
  const ingest = createIngest(
    configWithDefaults({
      kafkaBrokers: [brokers],
      schemaRegistryUrl: registryUrl,
      port: 0,
      topic,
      rateLimitPerSec: 0,
      maxBatchSize: 50,
      flushIntervalMs: 20,
      maxInFlight: 4,
      drainTimeoutMs: 5_000,
      ...overrides,
    }),
    { logger: silent },
  );
  running.push(ingest);
  const { port } = await ingest.start();
  const base = `http://127.0.0.1:${port}`;
  const post = async (p: string, body: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(base + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
    return { status: res.status, body: await res.json() };
  };
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  return { ingest, base, post, metrics };
}

const reaction = (userId: string, matchId = 'dl') => ({
  match_id: matchId,
  user_id: userId,
  emoji: '🔥',
  timestamp: new Date().toISOString(),
});

describe('ingest send-path errors on a real broker', () => {
  it('retry path: a refusal an operator can fix holds every reaction until it is fixed, then all land once', async () => {
    // The topic is missing (UNKNOWN_TOPIC_OR_PARTITION) until the operator creates it. (min.insync.replicas above
    // the replication factor would be the other classic, but Kafka 4.3 takes acks=all writes on it regardless.)
    const topic = `dl-retry-${run}`;
    topics.push(topic);
    const { ingest, post, metrics } = await startIngest(topic, {
      deadLetterDir: path.join(dataDir, 'retry'),
    });
    const posts = Array.from({ length: 80 }, (_, i) =>
      post(`/v1/reactions${i % 2 === 0 ? '?durable=true' : ''}`, reaction(`r${i}`)),
    );
    let durableAnswered = 0;
    for (const p of posts.filter((_, i) => i % 2 === 0)) p.then(() => durableAnswered++);

    await until('failed sends to be counted', 30_000, async () =>
      /^ingest_produce_errors_total [1-9]/m.test(await metrics()),
    );
    expect((await admin.listTopics()).includes(topic), 'nothing created the topic meanwhile').toBe(false);
    await until('all 80 reactions to be in the buffer', 20_000, () => ingest.bufferDepth === 80);
    await sleep(500);
    expect(durableAnswered, 'durable waiters wait out the refusal').toBe(0);
    expect(ingest.bufferDepth).toBe(80);

    await ensureTopic(admin, { topic, partitions: PARTITIONS, replicationFactor: 1 });
    const answers = await Promise.all(posts);
    await until('the buffer to drain', 30_000, () => ingest.bufferDepth === 0);

    expect(answers.map((a) => a.status)).toEqual(
      Array.from({ length: 80 }, (_, i) => (i % 2 === 0 ? 200 : 202)),
    );
    const records = await readAll(topic);
    const ids = records.map((r) => r.event_id);
    expect(new Set(ids).size, 'none twice').toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(answers.map((a) => a.body.event_id)));
    expect(await metrics()).not.toMatch(/^emostream_ingest_dead_letters_total\{/m);
  }, 90_000);

  it('poison path: refused batches are split, lone refused reactions are dead letters with a 500, the rest lands once, and ingest keeps answering', async () => {
    // A limit between the record batch of one normal reaction and that of one with 64-character ids.
    const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
      topic: `dl-size-${run}`,
      schema: await loadSchema('reaction'),
    });
    const sample = (id: string): ReactionRecord => ({
      event_id: crypto.randomUUID(),
      match_id: id,
      user_id: id,
      emoji: '🔥',
      client_ts: Date.now(),
      ingest_ts: Date.now(),
    });
    const longId = (i: number) => `poison-${i}-`.padEnd(64, 'x');
    // Record batch header (61 bytes) + one record (≤ 12 bytes of framing, the key, the value).
    const batchOf = (id: string) => 61 + 12 + id.length + serde.encode(sample(id)).length;
    const limit = batchOf('n-000') + 30;
    expect(batchOf(longId(0)), 'a poison reaction is over the limit on its own').toBeGreaterThan(limit + 50);
    expect(2 * batchOf('n-000') - 61 - 12, 'two normal reactions are over it').toBeGreaterThan(limit);

    const topic = await createTopic('dl-poison', { 'max.message.bytes': String(limit) });
    const dir = path.join(dataDir, 'poison');
    const { ingest, post, base, metrics } = await startIngest(topic, { deadLetterDir: dir });

    // Normal and poison reactions interleaved, durable and async, so poison ones share batches with others.
    const kinds = Array.from({ length: 120 }, (_, i) => ({
      poison: i % 20 === 7,
      durable: i % 3 === 0,
      user: i % 20 === 7 ? longId(i) : `n-${String(i).padStart(3, '0')}`,
    }));
    const single = kinds.map((k) =>
      post(`/v1/reactions${k.durable ? '?durable=true' : ''}`, reaction(k.user, k.poison ? k.user : 'dl')),
    );
    const batch = post('/v1/reactions:batch?durable=true', {
      reactions: [reaction('n-b0'), reaction(longId(999), longId(999)), reaction('n-b2')],
    });
    const answers = await Promise.all(single);
    const batchAnswer = await batch;
    await until('the buffer to drain', 30_000, () => ingest.bufferDepth === 0);

    for (let i = 0; i < kinds.length; i++) {
      const k = kinds[i] as (typeof kinds)[number];
      const a = answers[i] as { status: number; body: Json };
      if (k.poison && k.durable) {
        expect(a.status, k.user).toBe(500);
        expect(a.body.type).toBe('urn:emostream:problem:reaction-not-stored');
        expect(a.body.not_stored).toHaveLength(1);
        expect(a.body.detail).toMatch(/dead letters/);
      } else expect(a.status, k.user).toBe(k.durable ? 200 : 202);
    }
    expect(batchAnswer.status).toBe(500);
    expect(batchAnswer.body).toMatchObject({ type: 'urn:emostream:problem:reaction-not-stored', stored: 2 });
    expect(batchAnswer.body.not_stored.map((r: Json) => r.index)).toEqual([1]);

    // Every acknowledged normal reaction landed exactly once; no poison one did.
    const records = await readAll(topic);
    const ids = records.map((r) => r.event_id);
    expect(new Set(ids).size, 'none twice').toBe(ids.length);
    const normalIds = answers.filter((_, i) => !kinds[i]?.poison).map((a) => a.body.event_id as string);
    expect(records.length).toBe(normalIds.length + 2);
    for (const id of normalIds) expect(ids).toContain(id);
    expect(records.some((r) => r.user_id.startsWith('poison-'))).toBe(false);

    // The dead letters: one line per poison reaction, the reaction as JSON, the cause named.
    const poisonUsers = [...kinds.filter((k) => k.poison).map((k) => k.user), longId(999)].sort();
    const lines = readFileSync(path.join(dir, DEAD_LETTER_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as DeadLetterEntry);
    expect(lines.map((l) => l.key).sort()).toEqual(poisonUsers);
    for (const l of lines) {
      expect(l).toMatchObject({ topic, error: { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE' } });
      expect(l.reaction).toMatchObject({ user_id: l.key, match_id: l.key, emoji: '🔥' });
      expect(l.size).toBeGreaterThan(0);
    }
    const durablePoisonIds = answers
      .filter((_, i) => kinds[i]?.poison && kinds[i]?.durable)
      .map((a) => a.body.not_stored[0].event_id);
    for (const id of durablePoisonIds) {
      expect(lines.map((l) => (l.reaction as ReactionRecord).event_id)).toContain(id);
    }
    expect(await metrics()).toMatch(
      new RegExp(
        `^emostream_ingest_dead_letters_total\\{reason="message_too_large"\\} ${poisonUsers.length}$`,
        'm',
      ),
    );

    // No wedge: ingest is ready and keeps storing, also once the limit is restored.
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    await ready.body?.cancel();
    const after = await post('/v1/reactions?durable=true', reaction('n-after'));
    expect(after.status).toBe(200);
    await setTopicConfig(topic, {});
    await until('a long reaction to be stored once the limit is restored', 20_000, async () => {
      const r = await post('/v1/reactions?durable=true', reaction(longId(1000), 'dl'));
      return r.status === 200;
    });
  }, 120_000);
});
