import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { loadSchema } from '../common/avro-serde.ts';
import { REACTION_SCHEMA, type ReactionRecord } from './reaction-record.ts';

describe('ReactionRecord', () => {
  it('has exactly the fields of schemas/reaction.avsc, in order, and round-trips', async () => {
    const schema = JSON.parse(await loadSchema(REACTION_SCHEMA)) as { fields: { name: string }[] };
    const sample: ReactionRecord = {
      event_id: '00000000-0000-4000-8000-000000000000',
      match_id: 'm',
      user_id: 'u',
      emoji: '🔥',
      client_ts: 1,
      ingest_ts: 2,
    };
    expect(Object.keys(sample)).toEqual(schema.fields.map((f) => f.name));
    const type = avro.Type.forSchema(schema as avro.Schema);
    expect(type.isValid(sample)).toBe(true);
    expect({ ...type.fromBuffer(type.toBuffer(sample)) }).toEqual(sample);
  });
});
