/**
 * The one place that talks to the schema registry (Confluent-compatible API; Apicurio serves it under
 * `/apis/ccompat/v7`, which callers include in the URL).
 *
 * Wire format is the registry framing every Confluent/Apicurio client and Spark's `from_avro` (after stripping 5
 * bytes) understand: magic byte 0, the schema id as a 4-byte big-endian integer, then the Avro binary body.
 * The subject is `<topic>-value` (TopicNameStrategy).
 *
 * The registry library is used for registration and id → schema look-ups only. Encoding and decoding run on the
 * cached `avsc` Type with the 5-byte frame written here: the library's per-message `AvroSerializer` is async,
 * consults caches and rule executors per message: on the reaction record it measured ~43k records/s against
 * ~1.08M/s for `avsc` `toBuffer` + frame (same bytes, checked in `avro-serde.test.ts`), and ingest targets hundreds
 * of thousands of records per second.
 *
 * The client is imported from its own module, not the package root: the root (`dist/index.js`) re-exports the
 * encryption rule executors and loads the AWS, Azure and GCP KMS SDKs at import time, which measured ~3.4 s against
 * ~0.8 s for `dist/schemaregistry-client.js` alone (cold `node` import, this repository's lock). Every service and
 * test importing this module would pay it; tests that need the library's serializers or `MockClient` import
 * those modules directly for the same reason.
 */
import { readFile } from 'node:fs/promises';
import {
  type Client,
  SchemaRegistryClient,
} from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import avro from 'avsc';
import { processClientSecurity, type RegistryAuth } from './client-security.ts';

export type { Client as RegistryClient };

/** Magic byte of the registry framing (version 0). */
export const MAGIC_BYTE = 0;
/** Length of the frame header: magic byte + 4-byte schema id. */
export const FRAME_HEADER_LENGTH = 5;
/** Records up to this size (header included) are encoded without an intermediate allocation. */
const SCRATCH_BYTES = 16 * 1024;

/** Raised for bytes that are not a registry-framed record, or a schema that cannot be resolved. */
export class AvroSerdeError extends Error {
  override readonly name = 'AvroSerdeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Options of {@link createRegistryClient}. */
export interface RegistryClientOptions {
  /** Retries of a failed registry request. @default 3 */
  maxRetries?: number;
  /** Request timeout in milliseconds. @default 10000 */
  timeoutMs?: number;
  /**
   * HTTP basic credentials; `null`: none. @default this process's SCHEMA_REGISTRY_USERNAME and
   * SCHEMA_REGISTRY_PASSWORD(_FILE) (client-security.ts), none when unset
   */
  auth?: RegistryAuth | null;
}

/**
 * A registry client for the Confluent-compatible base URL (e.g. `http://host:port/apis/ccompat/v7`).
 * Several comma-separated URLs are accepted, as the library fails over between them.
 */
export function createRegistryClient(url: string, options: RegistryClientOptions = {}): Client {
  const baseURLs = url
    .split(',')
    .map((u) => u.trim().replace(/\/+$/, ''))
    .filter((u) => u.length > 0);
  if (baseURLs.length === 0) throw new AvroSerdeError('schema registry URL is empty');
  const auth = options.auth === undefined ? processClientSecurity().registry : options.auth;
  return new SchemaRegistryClient({
    baseURLs,
    ...(auth
      ? {
          basicAuthCredentials: {
            credentialsSource: 'USER_INFO',
            userInfo: `${auth.username}:${auth.password}`,
          },
        }
      : {}),
    maxRetries: options.maxRetries ?? 3,
    retriesWaitMs: 200,
    retriesMaxWaitMs: 2000,
    createAxiosDefaults: { timeout: options.timeoutMs ?? 10_000 },
  });
}

/** `schemas/`, the Avro schemas (the source of truth of every record type). */
export const SCHEMAS_DIR = new URL('../schemas/', import.meta.url);

/** Reads `schemas/<name>.avsc` (the source of truth) and returns its text, checked to be a valid Avro schema. */
export async function loadSchema(name: string, dir: URL = SCHEMAS_DIR): Promise<string> {
  if (!/^[a-z0-9][a-z0-9_-]*$/i.test(name))
    throw new AvroSerdeError(`invalid schema name ${JSON.stringify(name)}`);
  const text = await readFile(new URL(`${name}.avsc`, dir), 'utf8');
  try {
    avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  } catch (err) {
    throw new AvroSerdeError(`schemas/${name}.avsc is not a valid Avro schema: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return text;
}

/** Registers (or finds, if already registered) an Avro schema under `subject`; returns its global id. */
export async function registerSchema(client: Client, subject: string, schema: string): Promise<number> {
  try {
    return await client.register(subject, { schemaType: 'AVRO', schema }, false);
  } catch (err) {
    throw new AvroSerdeError(
      `registering schema under subject ${subject} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Subject of a topic's record values (TopicNameStrategy). */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

/** Options of {@link createAvroSerde}. */
export interface AvroSerdeOptions {
  /** Topic the records travel on; the subject is `<topic>-value`. */
  topic: string;
  /** Avro schema text (e.g. from {@link loadSchema}); the reader schema, and the writer schema when registering. */
  schema: string;
  /**
   * Register the schema (idempotent on the registry) rather than only looking its id up.
   * Consumers that must not create subjects pass false. @default true
   */
  register?: boolean;
}

/** Typed, registry-framed Avro serializer/deserializer for one topic's values. */
export interface AvroSerde<T> {
  /** Global id of the schema records are written with. */
  readonly schemaId: number;
  readonly subject: string;
  /** Compiled reader/writer type, e.g. for `isValid` checks. */
  readonly type: avro.Type;
  /** Frames and encodes one value (synchronous: the hot path of producers). */
  encode(value: T): Buffer;
  /**
   * Decodes a framed record. Records written with another schema id (an older or newer version on the subject) are
   * resolved to this serde's schema with Avro schema resolution; writer schemas are fetched once and cached.
   */
  deserialize(buf: Buffer): Promise<T>;
}

/**
 * Creates the serde for `<topic>-value`: registers (or looks up) the schema and compiles it once.
 */
export async function createAvroSerde<T>(client: Client, options: AvroSerdeOptions): Promise<AvroSerde<T>> {
  const subject = valueSubject(options.topic);
  const type = avro.Type.forSchema(JSON.parse(options.schema) as avro.Schema);
  let schemaId: number;
  if (options.register ?? true) {
    schemaId = await registerSchema(client, subject, options.schema);
  } else {
    try {
      schemaId = await client.getId(subject, { schemaType: 'AVRO', schema: options.schema }, false);
    } catch (err) {
      throw new AvroSerdeError(
        `schema is not registered under subject ${subject}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) {
    throw new AvroSerdeError(`registry returned an unusable schema id ${String(schemaId)} for ${subject}`);
  }
  const header = Buffer.alloc(FRAME_HEADER_LENGTH);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);

  // Readers for other writer schema ids: resolver from the writer's schema to ours, fetched once.
  const resolvers = new Map<number, Promise<avro.Resolver>>();
  function readerFor(id: number): Promise<avro.Resolver> {
    let entry = resolvers.get(id);
    if (entry === undefined) {
      entry = client.getBySubjectAndId(subject, id).then(
        (info) => {
          const writer = avro.Type.forSchema(JSON.parse(info.schema) as avro.Schema);
          return type.createResolver(writer);
        },
        (err: unknown) => {
          resolvers.delete(id); // let a later record retry a transient registry failure
          throw new AvroSerdeError(
            `cannot resolve writer schema id ${id} of ${subject}: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        },
      );
      resolvers.set(id, entry);
    }
    return entry;
  }

  // Records are written behind the frame header in one scratch buffer and copied out once into a pooled
  // allocation: `toBuffer` allocates a zero-filled, unpooled buffer per record and framing copied it again, which
  // measured as about half of ingest's per-reaction CPU.
  const scratch = Buffer.alloc(SCRATCH_BYTES);
  header.copy(scratch, 0);
  function encode(value: T): Buffer {
    const end = type.encode(value, scratch, FRAME_HEADER_LENGTH);
    if (end < 0) {
      // Larger than the scratch buffer (negative = bytes missing): the allocating path.
      const body = type.toBuffer(value);
      const out = Buffer.allocUnsafe(FRAME_HEADER_LENGTH + body.length);
      header.copy(out, 0);
      body.copy(out, FRAME_HEADER_LENGTH);
      return out;
    }
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }

  async function deserialize(buf: Buffer): Promise<T> {
    if (buf.length < FRAME_HEADER_LENGTH || buf[0] !== MAGIC_BYTE) {
      throw new AvroSerdeError(
        `not a registry-framed Avro record (${buf.length} bytes, first byte ${buf[0]})`,
      );
    }
    const id = buf.readInt32BE(1);
    const body = buf.subarray(FRAME_HEADER_LENGTH);
    try {
      if (id === schemaId) return type.fromBuffer(body) as T;
      const resolver = await readerFor(id);
      return type.fromBuffer(body, resolver) as T;
    } catch (err) {
      if (err instanceof AvroSerdeError) throw err;
      throw new AvroSerdeError(
        `cannot decode record of ${subject} (schema id ${id}): ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  return {
    schemaId,
    subject,
    type,
    encode,
    deserialize,
  };
}
