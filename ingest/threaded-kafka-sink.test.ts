import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createThreadedKafkaSink } from './threaded-kafka-sink.ts';

describe('threaded Kafka sink', () => {
  it('runs the producer in a worker thread and reports its failures back (no broker listening)', async () => {
    const sink = createThreadedKafkaSink({
      brokers: ['127.0.0.1:1'],
      topic: 't',
      logger: pino({ level: 'silent' }),
    });
    try {
      const err = await sink.send([{ key: 'k', value: Buffer.from([1, 2, 3]) }]).catch((e: Error) => e);
      expect(String(err)).toMatch(/ECONNREFUSED|connect/i);
    } finally {
      await sink.disconnect();
    }
  }, 60_000);
});
