/**
 * Container suite, first slice: reactions POSTed to ingest (in a container, from this checkout) land in Kafka (a
 * container) Avro-encoded with the schema ingest registered in the registry (a container): exactly as many
 * records as were accepted, nothing from refused requests.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createAvroSerde, createRegistryClient, loadSchema } from '../../common/avro-serde.ts';
import { ensureTopic } from '../../common/kafka.ts';
import type { ReactionRecord as Reaction } from '../../common/records.ts';
import { ContainerStack } from './container-stack.ts';
import { kafkaClient } from './modules/kafka-container.ts';
import { IngestContainer, type StartedNodeServiceContainer } from './modules/node-service-container.ts';

const brokers = inject('containerKafkaBrokers');
const registryUrl = inject('containerRegistryUrl');
const topic = `containers.reactions.${randomUUID().slice(0, 8)}`;
const stack = new ContainerStack();
let ingest: StartedNodeServiceContainer;

beforeAll(async () => {
  await ensureTopic(kafkaClient(brokers), { topic, partitions: 6, replicationFactor: 1 });
  ingest = await stack.add(
    new IngestContainer()
      .withKafka(brokers)
      .withRegistry(registryUrl)
      .withConfig({
        INGEST_TOPIC: topic,
        INGEST_DEFAULT_MATCH_ID: 'seed-match',
        INGEST_RATE_LIMIT_PER_SEC: '1000',
        INGEST_RATE_LIMIT_BURST: '1000',
      })
      .start(),
  );
});

afterAll(async () => {
  await stack.stopAll();
});

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${ingest.getUrl()}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Reads the topic from the beginning until `count` records arrived (or fails after `timeoutMs`). */
async function readReactions(count: number, timeoutMs = 30_000): Promise<{ key: string; value: Reaction }[]> {
  const serde = await createAvroSerde<Reaction>(createRegistryClient(registryUrl), {
    topic,
    schema: await loadSchema('reaction'),
    // Ingest registered the schema at start-up; the reader must find it, not create it.
    register: false,
  });
  const consumer = kafkaClient(brokers).consumer({
    groupId: `containers-${randomUUID()}`,
  });
  const records: { key: string; value: Reaction }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${records.length} of ${count} records after ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            records.push({
              key: message.key?.toString('utf8') ?? '',
              value: await serde.deserialize(message.value as Buffer),
            });
            if (records.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    // Anything beyond the expected count would be a duplicate or a leak of a refused request: give it a moment.
    await new Promise((r) => setTimeout(r, 1_500));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

describe('reactions through containerised Kafka, registry and ingest', () => {
  it('stores every accepted reaction once, Avro-encoded with the registered schema, and nothing refused', async () => {
    const now = Date.now();
    const single = await post('/v1/reactions?durable=true', {
      match_id: 'final-2026',
      user_id: 'viewer-1',
      emoji: 'fire',
      timestamp: new Date(now).toISOString(),
    });
    expect(single.status).toBe(200);

    const seed = await post('/emoji', { user_id: 42, emoji_type: '👍', timestamp: now });
    expect(seed.status).toBe(200);
    expect(seed.json).toMatchObject({ status: 'Emoji received' });

    const batchItems = Array.from({ length: 25 }, (_, i) => ({
      match_id: 'final-2026',
      user_id: `viewer-${i % 5}`,
      emoji: i % 2 === 0 ? '🔥' : ':clap:',
      timestamp: now,
    }));
    const batch = await post('/v1/reactions:batch?durable=true', { reactions: batchItems });
    expect(batch.status).toBe(200);
    expect(batch.json.accepted).toBe(25);

    const refused = await post('/v1/reactions', {
      match_id: 'final-2026',
      user_id: 'x',
      emoji: 'not an emoji',
    });
    expect(refused.status).toBe(400);

    const records = await readReactions(27);
    expect(records).toHaveLength(27);
    expect(new Set(records.map((r) => r.value.event_id)).size).toBe(27);

    const byMatch = (m: string) => records.filter((r) => r.value.match_id === m);
    expect(byMatch('final-2026')).toHaveLength(26);
    expect(byMatch('seed-match')).toEqual([
      expect.objectContaining({ key: '42', value: expect.objectContaining({ user_id: '42', emoji: '👍' }) }),
    ]);
    const emojis = byMatch('final-2026').map((r) => r.value.emoji);
    expect(emojis.filter((e) => e === '🔥')).toHaveLength(14);
    expect(emojis.filter((e) => e === '👏')).toHaveLength(12);
    for (const r of records) {
      expect(r.key).toBe(r.value.user_id);
      expect(r.value.ingest_ts).toBeGreaterThanOrEqual(now - 1_000);
      expect(r.value.client_ts).toBeGreaterThan(now - 1_000);
    }
  });
});
