/**
 * ensureTopic against a real broker: several processes' worth of concurrent creators of one new topic (the main
 * publisher and every cluster publisher start together) all succeed, and the topic ends with the asked partition
 * count and a leader for each partition.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTopic } from './kafka.ts';

let brokers: string[];

beforeAll(() => {
  brokers = inject('kafkaBrokers').split(',');
});

describe('ensureTopic', () => {
  it('lets concurrent creators of the same new topic all succeed with complete metadata', async () => {
    const topic = `emoji.fanout.it-ensure-${randomUUID().slice(0, 8)}`;
    const admins = Array.from({ length: 5 }, (_, i) => {
      return new Kafka({ clientId: `ensure-${i}`, brokers, logLevel: logLevel.NOTHING }).admin();
    });
    await Promise.all(admins.map((a) => a.connect()));
    try {
      await Promise.all(admins.map((a) => ensureTopic(a, topic, 3)));
      const admin = admins[0];
      if (!admin) throw new Error('no admin');
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(topics[0]?.partitions).toHaveLength(3);
      expect(topics[0]?.partitions.every((p) => p.leader >= 0)).toBe(true);
      // A second round on an existing topic is a no-op, not an error.
      await ensureTopic(admin, topic, 3);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
  });
});
