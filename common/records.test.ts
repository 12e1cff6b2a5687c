import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { loadSchema } from './avro-serde.ts';
import type { AggregateRow, ReactionRecord } from './records.ts';

/** Keys in the schema's field order, and a lossless Avro round trip: the type and the schema agree. */
async function expectMirrors(schemaName: string, sample: object): Promise<void> {
  const schema = JSON.parse(await loadSchema(schemaName)) as { fields: { name: string }[] };
  expect(Object.keys(sample)).toEqual(schema.fields.map((f) => f.name));
  const type = avro.Type.forSchema(schema as avro.Schema);
  expect(type.isValid(sample)).toBe(true);
  expect({ ...type.fromBuffer(type.toBuffer(sample)) }).toEqual(sample);
}

describe('record types mirror schemas/', () => {
  it('ReactionRecord has exactly the fields of reaction.avsc, in order, and round-trips', async () => {
    const sample: ReactionRecord = {
      event_id: '00000000-0000-4000-8000-000000000000',
      match_id: 'm',
      user_id: 'u',
      emoji: '🔥',
      client_ts: 1,
      ingest_ts: 2,
    };
    await expectMirrors('reaction', sample);
  });

  it('AggregateRow has exactly the fields of aggregate.avsc, in order, and round-trips', async () => {
    const sample: AggregateRow = {
      match_id: 'm',
      window_start: 2000,
      window_end: 4000,
      emoji: '🔥',
      count: 3785,
      swarm: 3,
      emitted_at: 4100,
    };
    await expectMirrors('aggregate', sample);
  });
});
