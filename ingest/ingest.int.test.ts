/**
 * Ingest against the real Kafka and schema registry of the test stack. Each run uses a fresh topic, and counts
 * are read from the topic's offsets, so "exactly N records" and "nothing reached Kafka" are exact.
 */
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import type { ReactionRecord } from '../common/records.ts';
import { BAD_REQUEST_CONFIG, badRequests } from './bad-requests.fixture.ts';
import { configWithDefaults, type IngestConfig } from './config.ts';
import { createIngest, type Ingest } from './ingest.ts';

const brokers = inject('kafkaBrokers');
const registryUrl = inject('registryUrl');
const topic = `ingest-int-${process.pid}-${Date.now()}`;
const silent = pino({ level: 'silent' });
const kafka = createKafka({
  clientId: 'ingest-int-test',
  brokers,
  logger: silent,
  logLevel: KafkaLogLevel.NOTHING,
});
const admin = kafka.admin();

// biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field below
type Json = any;

beforeAll(async () => {
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, replicationFactor: 1 });
});
afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  await admin.disconnect();
});

const running: Ingest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

/** Records in the topic so far (sum of the partitions' high watermarks). */
async function topicCount(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

/** Reads every record of the topic and decodes it with the registered schema (looked up, not registered). */
async function readAll(expected: number): Promise<{ key: string; value: ReactionRecord }[]> {
  const serde = await createAvroSerde<ReactionRecord>(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('reaction'),
    register: false,
  });
  const consumer = kafka.consumer({ groupId: `reader-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: { key: string; value: ReactionRecord }[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${expected} records`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          out.push({ key: String(message.key), value: await serde.deserialize(message.value as Buffer) });
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

async function startIngest(overrides: Partial<IngestConfig> = {}) {
  const config = configWithDefaults({
    kafkaBrokers: [brokers],
    schemaRegistryUrl: registryUrl,
    port: 0,
    topic,
    ...BAD_REQUEST_CONFIG,
    ...overrides,
  });
  const ingest = createIngest(config, { logger: silent });
  running.push(ingest);
  const { port } = await ingest.start();
  const base = `http://127.0.0.1:${port}`;
  const post = async (path: string, body: unknown): Promise<{ status: number; body: Json }> => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  return { ingest, base, post };
}

const iso = () => new Date().toISOString();

describe('ingest → Kafka (real broker and registry)', () => {
  it('single, seed and batch reactions land in the topic, decode with the registered schema, counts exact', async () => {
    const before = await topicCount();
    const { post } = await startIngest({ defaultMatchId: 'seed-match', batchMaxItems: 100 });
    const eventIds = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await post('/v1/reactions', {
        match_id: 'm-1',
        user_id: `u${i}`,
        emoji: 'fire',
        timestamp: iso(),
      });
      expect(r.status).toBe(202);
      eventIds.add(r.body.event_id);
    }
    for (let i = 0; i < 10; i++) {
      const r = await post('/emoji', { user_id: 1000 + i, emoji_type: '👍️', timestamp: Date.now() / 1000 });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('Emoji received');
      eventIds.add(r.body.message_id);
    }
    for (let b = 0; b < 4; b++) {
      const reactions = Array.from({ length: 100 }, (_, i) => ({
        match_id: 'm-2',
        user_id: `b${b}-${i}`,
        emoji: i % 2 ? ':clap:' : '❤',
        timestamp: Date.now(),
      }));
      // One bad item per batch: refused alone, the rest accepted.
      reactions[7] = { ...reactions[7], emoji: '🔥🔥' } as (typeof reactions)[number];
      const r = await post('/v1/reactions:batch', { reactions });
      expect(r.status).toBe(202);
      expect(r.body).toMatchObject({ accepted: 99, rejected: 1 });
      for (const item of r.body.results) if (item.status === 202) eventIds.add(item.event_id);
    }
    const expected = 30 + 10 + 4 * 99;
    expect(eventIds.size).toBe(expected);
    await expect.poll(topicCount, { timeout: 10_000 }).toBe(before + expected);
    const records = await readAll(before + expected);
    const mine = records.filter((r) => eventIds.has(r.value.event_id));
    expect(mine.length).toBe(expected);
    for (const { key, value } of mine) {
      expect(key).toBe(value.user_id);
      expect(['🔥', '👍', '👏', '❤️']).toContain(value.emoji);
      expect(value.ingest_ts).toBeGreaterThan(Date.now() - 120_000);
    }
    expect(mine.filter((r) => r.value.match_id === 'seed-match').length).toBe(10);
    expect(mine.filter((r) => r.value.emoji === '❤️').length).toBe(4 * 49 + 4);
    // Still exact after a while: nothing duplicated, nothing late.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await topicCount()).toBe(before + expected);
  });

  it(`refuses the ${badRequests().length} bad requests with the right status and body; the topic receives nothing`, async () => {
    const { base, ingest } = await startIngest();
    const before = await topicCount();
    for (const bad of badRequests()) {
      const res = await fetch(base + bad.path, {
        method: 'POST',
        headers: { 'content-type': bad.contentType ?? 'application/json' },
        body: bad.body,
      });
      const problem = JSON.parse(await res.text());
      expect.soft(res.status, bad.name).toBe(bad.status);
      expect.soft(res.headers.get('content-type'), bad.name).toBe('application/problem+json');
      expect.soft(problem.type, bad.name).toBe(`urn:emostream:problem:${bad.slug}`);
      const got = (problem.errors ?? []).map((e: { field: string; code: string }) => `${e.field}:${e.code}`);
      for (const want of bad.errors ?? []) expect.soft(got, bad.name).toContain(want);
    }
    await ingest.stop();
    expect(await topicCount()).toBe(before);
  });

  it('durable mode answers only once the record is in Kafka', async () => {
    // A long flush interval: a non-durable answer would come long before the record is written.
    const { post } = await startIngest({ flushIntervalMs: 500 });
    const before = await topicCount();
    const started = performance.now();
    const r = await post('/v1/reactions?durable=true', {
      match_id: 'd',
      user_id: 'durable-user',
      emoji: '🎉',
      timestamp: iso(),
    });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('stored');
    // Checked right after the answer, without polling: the record must already be there.
    expect(await topicCount()).toBe(before + 1);
    expect(performance.now() - started).toBeGreaterThan(50);
  });

  it('graceful stop flushes the buffer: every accepted reaction reaches Kafka', async () => {
    const { post, ingest } = await startIngest({ flushIntervalMs: 500, maxBatchSize: 1000 });
    const before = await topicCount();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        post('/v1/reactions', { match_id: 'g', user_id: `g${i}`, emoji: '👏', timestamp: iso() }),
      ),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(ingest.bufferDepth).toBeGreaterThan(0);
    await ingest.stop();
    expect(ingest.bufferDepth).toBe(0);
    expect(await topicCount()).toBe(before + 200);
  });

  it('rate limit: 429 with Retry-After, and only the allowed reactions reach Kafka', async () => {
    const { base } = await startIngest({ rateLimitPerSec: 0.5, rateLimitBurst: 2, flushIntervalMs: 50 });
    const before = await topicCount();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${base}/v1/reactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ match_id: 'r', user_id: 'eager', emoji: '🔥', timestamp: iso() }),
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses).toEqual([202, 202, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    await expect.poll(topicCount, { timeout: 5000 }).toBe(before + 2);
  });

  it('readiness reports Kafka and the registry reachable', async () => {
    const { base } = await startIngest();
    const res = await fetch(`${base}/ready`);
    expect(res.status).toBe(200);
    expect((await res.json()) as Json).toMatchObject({ checks: { kafka: 'ok', schema_registry: 'ok' } });
  });
});
