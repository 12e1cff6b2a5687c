import { MockClient } from '@confluentinc/schemaregistry/dist/mock-schemaregistry-client.js';
import { describe, expect, it } from 'vitest';
import { createAvroSerde, loadSchema } from '../../../common/avro-serde.ts';
import { keyPartition } from '../../../common/murmur2.ts';
import type { ReactionRecord } from '../../../common/records.ts';
import { createReactionLoad } from './reaction-load.ts';

const MATCHES = ['match-0', 'match-1', 'a-much-longer-match-id-ü'];
const EMOJIS = ['🔥', '❤️', '👍'];

async function setup(users = 60) {
  const serde = await createAvroSerde<ReactionRecord>(new MockClient({ baseURLs: ['mock://registry'] }), {
    topic: 'reactions',
    schema: await loadSchema('reaction'),
  });
  return {
    serde,
    load: createReactionLoad(serde, { partitions: 4, matches: MATCHES, emojis: EMOJIS, users }),
  };
}

describe('createReactionLoad', () => {
  it('writes framed, valid reaction records with the planned fields, keyed and partitioned by user', async () => {
    const { serde, load } = await setup();
    const now = 1_795_000_000_123;
    const batches = [load.next(130, now), load.next(70, now + 1)];
    const ids = new Set<string>();
    let total = 0;
    for (const [b, batch] of batches.entries()) {
      expect(batch).toHaveLength(4);
      for (const [p, messages] of batch.entries()) {
        for (const m of messages) {
          total++;
          expect(m.partition).toBe(p);
          expect(m.value.readInt32BE(1)).toBe(serde.schemaId);
          const r = await serde.deserialize(m.value);
          expect(serde.type.isValid(r)).toBe(true);
          expect(m.key.toString()).toBe(r.user_id);
          expect(keyPartition(r.user_id, 4)).toBe(p);
          expect(r.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          ids.add(r.event_id);
          const u = Number(r.user_id.slice(1));
          expect(MATCHES).toContain(r.match_id);
          expect(MATCHES.indexOf(r.match_id)).toBe(u % MATCHES.length);
          expect(EMOJIS).toContain(r.emoji);
          expect(r.client_ts).toBe(now + b);
          expect(r.ingest_ts).toBe(now + b);
          // Byte for byte what the serde itself writes.
          expect(m.value.equals(serde.encode(r))).toBe(true);
        }
      }
    }
    expect(total).toBe(200);
    expect(ids.size).toBe(200);
  });

  it('cycles users, matches and emojis in run order', async () => {
    const { serde, load } = await setup(7);
    const records = (
      await Promise.all(
        load
          .next(64, 1)
          .flat()
          .map((m) => serde.deserialize(m.value)),
      )
    ).sort((a, b) => a.event_id.localeCompare(b.event_id));
    records.forEach((r, i) => {
      expect(r.user_id).toBe(`u${i % 7}`);
      expect(r.match_id).toBe(MATCHES[i % MATCHES.length]);
      expect(r.emoji).toBe(EMOJIS[(i >> 3) % EMOJIS.length]);
    });
  });

  it('makes a single record keyed as asked', async () => {
    const { serde, load } = await setup();
    const probe = { match_id: 'probe-3', user_id: 'probe', emoji: '🔥', client_ts: 5, ingest_ts: 6 };
    const m = load.single(probe, 'probe-3');
    expect(m.key.toString()).toBe('probe-3');
    expect(m.partition).toBe(keyPartition('probe-3', 4));
    expect(await serde.deserialize(m.value)).toMatchObject(probe);
  });
});
