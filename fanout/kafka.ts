/**
 * Kafka plumbing shared by the publishers: a kafkajs client logging through pino, idempotent topic creation,
 * and the start-up replay of the main publisher.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { type Admin, type Consumer, Kafka, type LogEntry, logLevel } from 'kafkajs';
import type { Logger } from '../common/logger.ts';

/** A kafkajs client whose logs go to the service's structured logger. */
export function createKafka(clientId: string, brokers: string[], logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.error(rest, message);
        else if (level === logLevel.WARN) log.warn(rest, message);
        else log.debug(rest, message);
      },
  });
}

/**
 * Creates a topic with an explicit partition count if it does not exist yet. Other creators may race us (the main
 * publisher creates the cluster topics while the cluster publishers start): "already exists" is success, and a
 * retriable answer (e.g. UNKNOWN_TOPIC_OR_PARTITION while the leaders of a topic just created elsewhere are being
 * elected) is retried until the topic's metadata is complete, within a bounded number of attempts.
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  numPartitions: number,
  attempts = 10,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const existing = await admin.listTopics();
      if (!existing.includes(topic)) {
        await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
      }
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return;
      throw Object.assign(new Error(`topic ${topic} has no leader for every partition yet`), {
        retriable: true,
      });
    } catch (err) {
      const e = err as Error & { retriable?: boolean; errors?: { retriable?: boolean }[] };
      const retriable =
        e.retriable === true || (e.errors?.length ? e.errors.every((x) => x.retriable) : false);
      if (!retriable || attempt >= attempts) throw err;
      await sleep(Math.min(100 * 2 ** attempt, 2_000));
    }
  }
}

/**
 * On the first group join of this process, moves every assigned partition of `topic` back to the first offset
 * at or after `sinceMs`, whatever was committed: the main publisher's window state lives in memory, so a
 * restarted publisher re-reads the recent rows (idempotent) to serve snapshots again. Calls `onDone` once the
 * seeks are issued, which is when the consumer is ready.
 */
export function replayOnFirstJoin(
  consumer: Consumer,
  admin: Admin,
  topic: string,
  sinceMs: () => number,
  logger: Logger,
  onDone: () => void,
): void {
  let done = false;
  consumer.on(consumer.events.GROUP_JOIN, async ({ payload }) => {
    if (done) return;
    done = true;
    const assigned = payload.memberAssignment[topic] ?? [];
    try {
      if (assigned.length > 0) {
        const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, sinceMs());
        for (const { partition, offset } of offsets) {
          if (assigned.includes(partition)) consumer.seek({ topic, partition, offset });
        }
        logger.info({ topic, partitions: assigned }, 'replaying recent rows');
      }
    } catch (err) {
      logger.warn({ err, topic }, 'replay seek failed; continuing from committed offsets');
    }
    onDone();
  });
}
