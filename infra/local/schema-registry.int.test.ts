import { readFileSync } from 'node:fs';
import {
  AvroDeserializer,
  AvroSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { describe, expect, inject, it } from 'vitest';
import { repoRoot } from './versions.ts';

const schema = readFileSync(`${repoRoot}schemas/reaction.avsc`, 'utf8');

describe('Apicurio Registry through its Confluent-compatible API', () => {
  it('is served under /apis/ccompat/v7', () => {
    expect(inject('registryUrl')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7$/);
  });

  it('registers a schema, and @confluentinc/schemaregistry serializes and deserializes with it', async () => {
    const url = inject('registryUrl');
    const subjectTopic = `runtime-int-${Date.now()}`;
    const client = new SchemaRegistryClient({ baseURLs: [url] });
    const id = await client.register(`${subjectTopic}-value`, { schemaType: 'AVRO', schema });
    expect(id).toBeGreaterThan(0);
    // Registering the same schema again is idempotent and answers the same id.
    expect(await client.register(`${subjectTopic}-value`, { schemaType: 'AVRO', schema })).toBe(id);

    const serializer = new AvroSerializer(client, SerdeType.VALUE, { useLatestVersion: true });
    const record = {
      event_id: '0b7c4f55-6a1e-4d63-9f0c-2f9f3b1f0e11',
      match_id: 'match-1',
      user_id: '42',
      emoji: '🔥',
      client_ts: 1_700_000_000_000,
      ingest_ts: 1_700_000_000_123,
    };
    const bytes = await serializer.serialize(subjectTopic, record);
    // Registry framing: magic byte 0, then the id the registry answered, big-endian.
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(id);

    // A fresh client (no cache) must resolve the id through the registry to decode.
    const deserializer = new AvroDeserializer(
      new SchemaRegistryClient({ baseURLs: [url] }),
      SerdeType.VALUE,
      {},
    );
    expect({ ...(await deserializer.deserialize(subjectTopic, bytes)) }).toEqual(record);
  });
});
