/**
 * Kafka plumbing of the publishers beyond the shared client factory and ensureTopic (common/kafka.ts): their
 * retry settings and the start-up replay of the main publisher.
 */

import type { Admin, Consumer, RetryOptions } from 'kafkajs';
import type { Logger } from '../common/logger.ts';

/**
 * kafkajs retry of the publishers' clients: more and shorter tries than kafkajs' default (5, up to 30 s apart), so
 * a publisher rides out a broker restart without stalling half a minute between tries.
 */
export const FANOUT_KAFKA_RETRY: RetryOptions = { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 };

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
