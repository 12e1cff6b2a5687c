/**
 * ensureTopic against a real broker: several processes' worth of concurrent creators of one new topic (the main
 * publisher and every cluster publisher start together) all succeed, and the topic ends with the asked partition
 * count and a leader for each partition; `exactPartitions` refuses an existing topic of another size.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafka, ensureTopic, KafkaLogLevel, TopicMismatchError } from './kafka.ts';
import { createLogger } from './logger.ts';

let brokers: string;
const logger = createLogger('kafka-int-test');

beforeAll(() => {
  brokers = inject('kafkaBrokers');
});

describe('ensureTopic', () => {
  it('lets concurrent creators of the same new topic all succeed with complete metadata', async () => {
    // One client per creator, as separate processes would have: each its own connections and metadata cache.
    const admins = Array.from({ length: 8 }, (_, i) =>
      createKafka({ clientId: `ensure-${i}`, brokers, logger, logLevel: KafkaLogLevel.NOTHING }).admin(),
    );
    await Promise.all(admins.map((a) => a.connect()));
    try {
      // Several rounds, many partitions: the losers of a round find a topic whose leaders are still being
      // elected, which only the retry rides out.
      for (let round = 0; round < 3; round++) {
        const topic = `emoji.fanout.it-ensure-${randomUUID().slice(0, 8)}`;
        const answers = await Promise.all(admins.map((a) => ensureTopic(a, { topic, partitions: 12 })));
        expect(answers).toEqual(Array(admins.length).fill({ [topic]: 12 }));
        const admin = admins[0];
        if (!admin) throw new Error('no admin');
        const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
        expect(topics[0]?.partitions).toHaveLength(12);
        expect(topics[0]?.partitions.every((p) => p.leader >= 0)).toBe(true);
        // A second round on an existing topic is a no-op, not an error.
        await ensureTopic(admin, { topic, partitions: 12 }, { exactPartitions: true });
        await admin.deleteTopics({ topics: [topic] });
      }
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
  });

  it('creates several topics with their configs from a client, and refuses a size mismatch when asked', async () => {
    const id = randomUUID().slice(0, 8);
    const a = `emoji.it-ensure-a-${id}`;
    const b = `emoji.it-ensure-b-${id}`;
    const kafka = createKafka({ clientId: 'ensure-many', brokers, logger });
    const created = await ensureTopic(kafka, [
      { topic: a, partitions: 2, replicationFactor: 1, configs: { 'retention.ms': '600000' } },
      { topic: b, partitions: 1 },
    ]);
    expect(created).toEqual({ [a]: 2, [b]: 1 });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [config] = (
        await admin.describeConfigs({
          resources: [{ type: 2, name: a, configNames: ['retention.ms'] }],
          includeSynonyms: false,
        })
      ).resources;
      expect(config?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue).toBe('600000');
      // Without exactPartitions an existing topic is used as it is (fan-out shares topics others made)…
      expect(await ensureTopic(admin, { topic: a, partitions: 5 })).toEqual({ [a]: 2 });
      // …with it, a stack that owns its topics is told rather than silently given the wrong size.
      const mismatch = ensureTopic(admin, { topic: a, partitions: 5 }, { exactPartitions: true });
      await expect(mismatch).rejects.toBeInstanceOf(TopicMismatchError);
      await expect(mismatch).rejects.toThrow(`topic ${a} has 2 partitions, expected 5`);
      // …and, with onMorePartitions, one made bigger by an earlier default is kept and reported; fewer still fails.
      const more: unknown[] = [];
      const keep = { exactPartitions: true, onMorePartitions: (...args: unknown[]) => more.push(args) };
      expect(await ensureTopic(admin, { topic: a, partitions: 1 }, keep)).toEqual({ [a]: 2 });
      expect(more).toEqual([[a, 2, 1]]);
      await expect(ensureTopic(admin, { topic: a, partitions: 5 }, keep)).rejects.toBeInstanceOf(
        TopicMismatchError,
      );
      await admin.deleteTopics({ topics: [a, b] });
    } finally {
      await admin.disconnect();
    }
  });
});
