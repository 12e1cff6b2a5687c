/**
 * The load simulator's tap on the reactions topic against a real Kafka and registry: it reports the Kafka record
 * timestamp of each record of the run's matches, under the record's match and ingest timestamp, from the end of the
 * topic on, and survives records it cannot decode.
 */
import { randomUUID } from 'node:crypto';
import { type Admin, Partitioners, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AvroSerde, createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import type { ReactionRecord } from '../common/records.ts';
import { type ReactionTap, startReactionTap } from './reaction-tap.ts';

const run = randomUUID().slice(0, 8);
const topic = `emoji.reactions.it-tap-${run}`;
const prefix = `tap-${run}-`;
let admin: Admin;
let producer: Producer;
let serde: AvroSerde<ReactionRecord>;
let tap: ReactionTap | undefined;

function reaction(matchId: string, ingestTs: number): ReactionRecord {
  return {
    event_id: randomUUID(),
    match_id: matchId,
    user_id: 'u',
    emoji: '🔥',
    client_ts: ingestTs,
    ingest_ts: ingestTs,
  };
}

beforeAll(async () => {
  const brokers = inject('kafkaBrokers');
  const kafka = createKafka({ clientId: `tap-it-${run}`, brokers, logger: createLogger('tap-it') });
  admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 2 });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  // Registers the schema, as ingest does: the tap only looks it up.
  serde = await createAvroSerde<ReactionRecord>(createRegistryClient(inject('registryUrl')), {
    topic,
    schema: await loadSchema('reaction'),
  });
});

afterAll(async () => {
  await tap?.stop();
  await producer?.disconnect();
  await admin?.disconnect();
});

describe('reaction tap', () => {
  it("reports each of the run's records with its Kafka timestamp, from the end of the topic on", async () => {
    const now = Date.now();
    // Before the tap starts: not reported (it reads from the end).
    await producer.send({
      topic,
      messages: [{ key: 'u', value: serde.encode(reaction(`${prefix}1`, now - 5000)) }],
    });
    const seen: [string, number, number][] = [];
    tap = await startReactionTap({
      brokers: [inject('kafkaBrokers')],
      registryUrl: inject('registryUrl'),
      topic,
      matchPrefix: prefix,
      onRecord: (matchId, ingestTs, at) => seen.push([matchId, ingestTs, at]),
    });
    await producer.send({
      topic,
      messages: [
        { key: 'u', value: Buffer.from('not a framed record') },
        { key: 'u', value: serde.encode(reaction('another-run-1', now)) },
        { key: 'u', value: serde.encode(reaction(`${prefix}1`, now)), timestamp: String(now + 1_111) },
        { key: 'v', value: serde.encode(reaction(`${prefix}2`, now + 1)), timestamp: String(now + 2_222) },
      ],
    });
    const deadline = Date.now() + 30_000;
    while ((seen.length < 2 || tap.counts.undecodable < 1) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(seen.sort((a, b) => a[1] - b[1])).toEqual([
      [`${prefix}1`, now, now + 1_111],
      [`${prefix}2`, now + 1, now + 2_222],
    ]);
    expect(tap.counts).toEqual({ seen: 2, undecodable: 1 });
  });
});
