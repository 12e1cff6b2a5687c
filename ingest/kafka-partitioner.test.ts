import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { HASH_KEYS as keys } from '../common/murmur2.fixture.ts';
import { FastKeyPartitioner } from './kafka-partitioner.ts';

describe('FastKeyPartitioner', () => {
  const partitionMetadata = Array.from({ length: 12 }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  it('picks the same partition as kafkajs DefaultPartitioner', () => {
    const fast = FastKeyPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    for (const key of keys) {
      const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
      expect(fast(args), key).toBe(reference(args));
      const bufArgs = { topic: 't', partitionMetadata, message: { key: Buffer.from(key), value: 'v' } };
      expect(fast(bufArgs), key).toBe(reference(args));
    }
  });
  it('keeps an explicit partition', () => {
    const fast = FastKeyPartitioner();
    expect(fast({ topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: 5 } })).toBe(5);
  });
});
