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
 * Group membership of the publishers' consumers. A publisher that dies without leaving its group (SIGKILL, a lost
 * machine) holds its partitions until the coordinator gives up on it, one session timeout, and its restarted self
 * cannot join before; kafkajs' default of 30 s made a killed publisher's swarms stop for 30 s (npm run chaos).
 * 10 s stays well above the 1 s heartbeats and a long GC pause, and above the broker's 6 s minimum.
 */
export const FANOUT_CONSUMER_GROUP = {
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
  rebalanceTimeout: 20_000,
};

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
