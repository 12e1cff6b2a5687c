/**
 * Kafka plumbing shared by the publishers: a kafkajs client logging through pino, idempotent topic creation,
 * and the start-up replay of the main publisher.
 */
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
 * Creates a topic with an explicit partition count if it does not exist yet (other creators may race us: the
 * broker's "already exists" is success).
 */
export async function ensureTopic(admin: Admin, topic: string, numPartitions: number): Promise<void> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return;
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  } catch (err) {
    if (!String((err as Error).message).includes('already exists')) throw err;
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
