import { MockClient } from '@confluentinc/schemaregistry/dist/mock-schemaregistry-client.js';
import { AvroDeserializer, AvroSerializer } from '@confluentinc/schemaregistry/dist/serde/avro.js';
import { SerdeType, SubjectNameStrategyType } from '@confluentinc/schemaregistry/dist/serde/serde.js';
import { describe, expect, it } from 'vitest';
import {
  AvroSerdeError,
  createAvroSerde,
  createRegistryClient,
  loadSchema,
  registerSchema,
} from './avro-serde.ts';
import type { ReactionRecord as Reaction } from './records.ts';

const sample: Reaction = {
  event_id: '6f1c1d5e-6d0b-4c53-9a55-0c0b7c3a1f42',
  match_id: 'match-1',
  user_id: 'u-42',
  emoji: '🔥',
  client_ts: 1_760_000_000_000,
  ingest_ts: 1_760_000_000_123,
};

function mockClient(): MockClient {
  return new MockClient({ baseURLs: ['mock://registry'] });
}

describe('loadSchema', () => {
  it('reads the project schemas and rejects names that could escape the directory', async () => {
    const text = await loadSchema('reaction');
    expect(JSON.parse(text).name).toBe('Reaction');
    await expect(loadSchema('../package')).rejects.toBeInstanceOf(AvroSerdeError);
    await expect(loadSchema('no-such-schema')).rejects.toThrow(/ENOENT/);
  });
});

describe('createRegistryClient', () => {
  it('refuses an empty URL list', () => {
    expect(() => createRegistryClient(' , ')).toThrow(AvroSerdeError);
  });
});

describe('createAvroSerde', () => {
  it('frames records with magic byte 0 and the registered id, subject <topic>-value', async () => {
    const client = mockClient();
    const schema = await loadSchema('reaction');
    const serde = await createAvroSerde<Reaction>(client, { topic: 'reactions', schema });
    expect(serde.subject).toBe('reactions-value');
    expect(await client.getId('reactions-value', { schemaType: 'AVRO', schema })).toBe(serde.schemaId);
    const buf = serde.encode(sample);
    expect(buf[0]).toBe(0);
    expect(buf.readInt32BE(1)).toBe(serde.schemaId);
    expect(await serde.deserialize(buf)).toEqual(sample);
  });

  it('writes the same bytes as the library serializer, and each side reads the other', async () => {
    const client = mockClient();
    const schema = await loadSchema('reaction');
    const serde = await createAvroSerde<Reaction>(client, { topic: 'r', schema });
    const libSer = new AvroSerializer(client, SerdeType.VALUE, {
      useLatestVersion: true,
      subjectNameStrategyType: SubjectNameStrategyType.TOPIC,
    });
    const libDes = new AvroDeserializer(client, SerdeType.VALUE, {
      subjectNameStrategyType: SubjectNameStrategyType.TOPIC,
    });
    const ours = serde.encode(sample);
    const theirs = await libSer.serialize('r', sample);
    expect(ours.equals(theirs)).toBe(true);
    expect({ ...(await libDes.deserialize('r', ours)) }).toEqual(sample);
    expect(await serde.deserialize(theirs)).toEqual(sample);
  });

  it('returns independent buffers, also for records larger than the scratch buffer', async () => {
    const serde = await createAvroSerde<Reaction>(mockClient(), {
      topic: 'r',
      schema: await loadSchema('reaction'),
    });
    const big = { ...sample, match_id: 'm'.repeat(40_000) };
    const a = serde.encode(sample);
    const b = serde.encode(big);
    const c = serde.encode({ ...sample, user_id: 'someone-else' });
    expect(await serde.deserialize(a)).toEqual(sample);
    expect(await serde.deserialize(b)).toEqual(big);
    expect((await serde.deserialize(c)).user_id).toBe('someone-else');
  });

  it('refuses values that do not match the schema', async () => {
    const serde = await createAvroSerde<Reaction>(mockClient(), {
      topic: 'r',
      schema: await loadSchema('reaction'),
    });
    expect(() => serde.encode({ ...sample, client_ts: 'soon' } as unknown as Reaction)).toThrow();
  });

  it('resolves records written with an older schema version to the reader schema', async () => {
    const client = mockClient();
    const v1 = JSON.stringify({
      type: 'record',
      name: 'R',
      fields: [{ name: 'a', type: 'string' }],
    });
    const v2 = JSON.stringify({
      type: 'record',
      name: 'R',
      fields: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int', default: 7 },
      ],
    });
    const old = await createAvroSerde<{ a: string }>(client, { topic: 'evo', schema: v1 });
    const current = await createAvroSerde<{ a: string; b: number }>(client, { topic: 'evo', schema: v2 });
    expect(current.schemaId).not.toBe(old.schemaId);
    expect(await current.deserialize(old.encode({ a: 'x' }))).toEqual({ a: 'x', b: 7 });
  });

  it('rejects bytes that are not registry-framed and unknown schema ids', async () => {
    const serde = await createAvroSerde<Reaction>(mockClient(), {
      topic: 'r',
      schema: await loadSchema('reaction'),
    });
    await expect(serde.deserialize(Buffer.from([1, 0, 0, 0, 1, 2]))).rejects.toBeInstanceOf(AvroSerdeError);
    await expect(serde.deserialize(Buffer.from([0, 0]))).rejects.toBeInstanceOf(AvroSerdeError);
    await expect(serde.deserialize(Buffer.from([0, 0, 0, 0x7f, 0x7f, 2]))).rejects.toBeInstanceOf(
      AvroSerdeError,
    );
  });

  it('with register: false, finds an existing registration and fails on a missing one', async () => {
    const client = mockClient();
    const schema = await loadSchema('reaction');
    await expect(createAvroSerde(client, { topic: 'x', schema, register: false })).rejects.toBeInstanceOf(
      AvroSerdeError,
    );
    const id = await registerSchema(client, 'x-value', schema);
    const serde = await createAvroSerde(client, { topic: 'x', schema, register: false });
    expect(serde.schemaId).toBe(id);
  });
});
