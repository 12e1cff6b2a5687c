import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { HASH_KEYS as keys } from './murmur2.fixture.ts';
import { keyPartition, murmur2, murmur2Bytes } from './murmur2.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  k: string | Buffer,
) => number;

describe('murmur2', () => {
  it('matches kafkajs (Java-compatible) on ASCII, non-ASCII and long keys', () => {
    for (const key of keys) expect(murmur2(key), key).toBe(kafkajsMurmur2(key));
  });
  it('hashes a key and its UTF-8 bytes alike, also within a larger buffer', () => {
    for (const key of keys) {
      const bytes = Buffer.from(key);
      expect(murmur2Bytes(bytes), key).toBe(murmur2(key));
      expect(murmur2Bytes(Buffer.concat([bytes, Buffer.from('tail')]), bytes.length), key).toBe(murmur2(key));
    }
  });
});

describe('keyPartition', () => {
  it('is the positive hash modulo the partition count, for string and byte keys', () => {
    for (const key of keys) {
      const expected = (kafkajsMurmur2(key) & 0x7fffffff) % 12;
      expect(keyPartition(key, 12), key).toBe(expected);
      expect(keyPartition(Buffer.from(key), 12), key).toBe(expected);
    }
  });
});
