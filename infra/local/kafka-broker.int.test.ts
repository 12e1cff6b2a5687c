import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createKafka, ensureTopic } from '../../common/kafka.ts';
import { createLogger } from '../../common/logger.ts';
import { TOPICS } from '../../common/topics.ts';
import { DEFAULT_TOPIC_PARTITIONS } from './local-stack.ts';

const kafka = createKafka({
  clientId: 'runtime-int-test',
  brokers: inject('kafkaBrokers'),
  logger: createLogger('runtime-int-test'),
});

describe('Kafka broker started by the test stack', () => {
  it('has the default topics with their explicit partition counts', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: Object.keys(DEFAULT_TOPIC_PARTITIONS) });
      const counts = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
      expect(counts).toEqual(DEFAULT_TOPIC_PARTITIONS);
      expect(counts[TOPICS.reactions]).toBe(4);
      expect(counts[TOPICS.aggregates]).toBe(6);
    } finally {
      await admin.disconnect();
    }
  });

  it('takes kafkajs produce with acks=all and delivers every record to a consumer group', async () => {
    const topic = `runtime-int-${randomUUID()}`;
    await ensureTopic(kafka, { topic, partitions: 3 });

    const producer = kafka.producer();
    await producer.connect();
    const sent = Array.from({ length: 300 }, (_, i) => ({ key: `user-${i % 17}`, value: `reaction-${i}` }));
    await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();

    const groupId = `runtime-int-group-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: string[] = [];
    const partitions = new Set<number>();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of 300 consumed`)), 60_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          received.push(message.value?.toString() ?? '');
          partitions.add(partition);
          if (received.length === sent.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();

    expect(received.sort()).toEqual(sent.map((m) => m.value).sort());
    expect(partitions.size).toBe(3);

    // The group committed its offsets: the broker's group coordinator works for kafkajs' classic protocol.
    const admin2 = kafka.admin();
    await admin2.connect();
    const offsets = await admin2.fetchOffsets({ groupId, topics: [topic] });
    await admin2.disconnect();
    const committed = offsets[0]?.partitions.reduce((sum, p) => sum + Number(p.offset), 0);
    expect(committed).toBe(300);
  });
});
