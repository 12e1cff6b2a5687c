/**
 * Java-compatible murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), the hash Kafka's default partitioner
 * applies to a record key: `(murmur2(key) & 0x7fffffff) % partitions`. kafkajs computes it on its own 64-bit Long
 * emulation, which measured as a large share of a producer's CPU; this is the same function on 32-bit integer math
 * (`Math.imul`), so every key still lands on the partition the JVM clients, kafkajs and Spark would pick.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const scratch = Buffer.allocUnsafe(1024);

/** murmur2 over bytes `[0, length)` of `data`. */
export function murmur2Bytes(data: Uint8Array, length: number = data.length): number {
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4] as number) |
      ((data[i4 + 1] as number) << 8) |
      ((data[i4 + 2] as number) << 16) |
      ((data[i4 + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2 folds the tail bytes by falling through
    case 3:
      h ^= (data[tail + 2] as number) << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: see above
    case 2:
      h ^= (data[tail + 1] as number) << 8;
    case 1:
      h ^= data[tail] as number;
      h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** murmur2 of the UTF-8 bytes of `key` (what kafkajs and the JVM clients hash for a string key). */
export function murmur2(key: string): number {
  if (key.length * 3 <= scratch.length) {
    return murmur2Bytes(scratch, scratch.write(key, 0, 'utf8'));
  }
  const data = Buffer.from(key);
  return murmur2Bytes(data, data.length);
}

/** The partition Kafka's default partitioner picks for a keyed record. */
export function keyPartition(key: string | Uint8Array, partitions: number): number {
  const h = typeof key === 'string' ? murmur2(key) : murmur2Bytes(key, key.length);
  return (h & 0x7fffffff) % partitions;
}
