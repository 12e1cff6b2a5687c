/**
 * A stack on a data dir is the same cluster after a restart: records, committed offsets, schema ids and topic
 * configs survive a stop and a start on the same data dir. Starts its own stack (twice) on fixed free ports,
 * beside the suite's shared one.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createAvroSerde,
  createRegistryClient,
  loadSchema,
  registerSchema,
} from '../../common/avro-serde.ts';
import { type ClientSecurity, PLAINTEXT } from '../../common/client-security.ts';
import { createKafka } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import type { ReactionRecord } from '../../common/records.ts';
import { TOPICS } from '../../common/topics.ts';
import { dataPaths } from './data-dir.ts';
import { secureFrom } from './foreground.ts';
import { formattedClusterId } from './kafka-broker.ts';
import { clientSecurityOf } from './kafka-security.ts';
import { type StackOptions, startStack } from './local-stack.ts';
import { freePort } from './ports.ts';
import type { RetentionSettings } from './retention.ts';

const MiB = 1024 * 1024;
const RECORDS = 200;
const root = mkdtempSync(path.join(tmpdir(), 'emostream-persist-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * The admin login of this test's own stack: with EMOSTREAM_SECURE=1 it is secured too (its own CA and passwords,
 * kept in its data dir across the restart), so the process's credentials, those of the suite's stack, do not fit.
 */
function loginOf(stack: { security?: Parameters<typeof clientSecurityOf>[0] }): ClientSecurity {
  return stack.security
    ? clientSecurityOf(stack.security, 'admin')
    : { kafka: PLAINTEXT, registry: undefined };
}

async function topicConfigs(
  brokers: string,
  topic: string,
  login: ClientSecurity,
): Promise<Record<string, string>> {
  const admin = createKafka({
    clientId: 'persist-test',
    brokers,
    security: login.kafka,
    logger: createLogger('persist-test'),
  }).admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    });
    return Object.fromEntries((resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue]));
  } finally {
    await admin.disconnect();
  }
}

describe('a stack on a data dir', () => {
  it('keeps records, schema ids and topic configs across a restart, and applies changed retention', async () => {
    const dataDir = path.join(root, 'data');
    const runDir = path.join(root, 'run');
    // Fixed across both starts, as npm start's are: the KRaft voter set records the controller's endpoint.
    const ports = {
      kafkaPort: await freePort(),
      kafkaControllerPort: await freePort(),
      registryPort: await freePort(),
      registryManagementPort: await freePort(),
    };
    const first: RetentionSettings = {
      retentionMs: 3_600_000,
      retentionBytes: 8 * MiB,
      segmentBytes: 2 * MiB,
    };
    const options = (retention: RetentionSettings): StackOptions => ({
      provision: false,
      secure: secureFrom({}),
      dataDir,
      runDir,
      retention,
      ...ports,
    });
    const reactionSchema = await loadSchema('reaction');
    const sent: ReactionRecord[] = Array.from({ length: RECORDS }, (_, i) => ({
      event_id: randomUUID(),
      match_id: `m${i % 4}`,
      user_id: `u${i}`,
      emoji: '🔥',
      client_ts: Date.now(),
      ingest_ts: Date.now(),
    }));

    let schemaId: number;
    let clusterId: string | undefined;
    {
      await using stack = await startStack(options(first));
      // A filler subject first, so the reaction schema's id is not the one a fresh registry would hand out again.
      const registry = createRegistryClient(stack.registryUrl, { auth: loginOf(stack).registry ?? null });
      await registerSchema(registry, `persist-filler-${randomUUID()}-value`, '"string"');
      const serde = await createAvroSerde<ReactionRecord>(registry, {
        topic: TOPICS.reactions,
        schema: reactionSchema,
      });
      schemaId = serde.schemaId;
      const producer = createKafka({
        clientId: 'persist-test',
        brokers: stack.kafkaBrokers,
        security: loginOf(stack).kafka,
        logger: createLogger('persist-test'),
      }).producer();
      await producer.connect();
      await producer.send({
        topic: TOPICS.reactions,
        acks: -1,
        messages: sent.map((r) => ({ key: r.user_id, value: serde.encode(r) })),
      });
      await producer.disconnect();
      clusterId = formattedClusterId(dataPaths(dataDir).kafka);
      expect(clusterId).toBeTruthy();
      expect(await topicConfigs(stack.kafkaBrokers, TOPICS.reactions, loginOf(stack))).toMatchObject({
        'retention.ms': '3600000',
        'retention.bytes': String(8 * MiB),
        'segment.bytes': String(2 * MiB),
      });
    }
    expect(existsSync(path.join(dataDir, 'owner.json'))).toBe(false);

    const second: RetentionSettings = { ...first, retentionBytes: 4 * MiB };
    await using stack = await startStack(options(second));
    expect(formattedClusterId(dataPaths(dataDir).kafka)).toBe(clusterId);
    // The last run's logs are still readable.
    expect(readdirSync(path.join(runDir, 'logs', 'previous'))).toEqual(
      expect.arrayContaining(['kafka.log', 'registry.log']),
    );

    // Looked up, not registered: a registry that forgot would refuse (or hand out a fresh id).
    const registry = createRegistryClient(stack.registryUrl, { auth: loginOf(stack).registry ?? null });
    const serde = await createAvroSerde<ReactionRecord>(registry, {
      topic: TOPICS.reactions,
      schema: reactionSchema,
      register: false,
    });
    expect(serde.schemaId).toBe(schemaId);
    const newId = await registerSchema(registry, `persist-new-${randomUUID()}-value`, '"long"');
    expect(newId).toBeGreaterThan(schemaId);

    const configs = await topicConfigs(stack.kafkaBrokers, TOPICS.reactions, loginOf(stack));
    expect(configs['retention.bytes']).toBe(String(4 * MiB));
    expect(configs['retention.ms']).toBe('3600000');

    const consumer = createKafka({
      clientId: 'persist-test',
      brokers: stack.kafkaBrokers,
      security: loginOf(stack).kafka,
      logger: createLogger('persist-test'),
    }).consumer({ groupId: `persist-${randomUUID()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPICS.reactions, fromBeginning: true });
    const received: ReactionRecord[] = [];
    const ids = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${received.length} of ${RECORDS} records`)),
        60_000,
      );
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          ids.add(message.value.readInt32BE(1));
          received.push(await serde.deserialize(message.value));
          if (received.length === RECORDS) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(received.map((r) => r.event_id).sort()).toEqual(sent.map((r) => r.event_id).sort());
    expect([...ids]).toEqual([schemaId]);
  }, 300_000);
});
