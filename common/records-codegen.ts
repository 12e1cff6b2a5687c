/**
 * Generates `common/records.ts`, the TypeScript face of the Avro schemas in `schemas/` (the source of truth):
 * one interface per schema TypeScript uses ({@link TYPED_SCHEMAS}), field docs from the schema's `doc`. `npm run records:generate` writes the file;
 * `records.test.ts` fails when the committed file is not what the schemas generate, so a new or changed schema
 * cannot ship with stale or missing types.
 *
 * Avro primitives, logical types over them (timestamps as epoch-ms numbers), maps, arrays, unions, enums, fixed
 * and nested records (each its own interface, named like a top-level one) are mapped; a type it cannot resolve
 * throws and names the schema and field.
 */
import { readdir, readFile } from 'node:fs/promises';
import avro from 'avsc';
import { SCHEMAS_DIR } from './avro-serde.ts';

/** The generated module. */
export const RECORDS_FILE = new URL('./records.ts', import.meta.url);

/**
 * TypeScript names of record types whose code name predates generation (and is used across the code base);
 * any other record, nested ones included, is named after its Avro `name`.
 */
const TYPE_NAMES: Record<string, string> = {
  'io.emostream.v1.Reaction': 'ReactionRecord',
  'io.emostream.v1.EmojiAggregate': 'AggregateRow',
  'io.emostream.v1.SwarmUpdate': 'SwarmWindow',
};

type AvroType = string | AvroType[] | { type: string; [key: string]: unknown };

interface AvroField {
  name: string;
  type: AvroType;
  doc?: string;
}

interface AvroRecord {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: AvroField[];
}

/** One parsed schema file. */
export interface SchemaFile {
  /** File name under `schemas/`, e.g. `reaction.avsc`. */
  file: string;
  text: string;
}

/** Raised for a schema the generator cannot map; names the file and the field. */
export class RecordsCodegenError extends Error {
  override readonly name = 'RecordsCodegenError';
}

const NUMBERS = new Set(['int', 'long', 'float', 'double']);

/** Per schema file: the named types seen so far (Avro full name and short name → TS type) and the output blocks. */
interface Context {
  file: string;
  namespace: string | undefined;
  named: Map<string, string>;
  blocks: string[][];
}

function fullName(name: string, namespace: string | undefined): string {
  return name.includes('.') || !namespace ? name : `${namespace}.${name}`;
}

function register(
  ctx: Context,
  type: { name?: unknown; namespace?: unknown; type?: unknown },
  ts: string,
): void {
  if (typeof type.name !== 'string') return;
  const namespace = typeof type.namespace === 'string' ? type.namespace : ctx.namespace;
  ctx.named.set(fullName(type.name, namespace), ts);
  ctx.named.set(type.name, ts);
}

function tsType(type: AvroType, where: string, ctx: Context): { ts: string; note?: string } {
  if (typeof type === 'string') {
    if (NUMBERS.has(type)) return { ts: 'number' };
    if (type === 'string') return { ts: 'string' };
    if (type === 'boolean') return { ts: 'boolean' };
    if (type === 'null') return { ts: 'null' };
    if (type === 'bytes') return { ts: 'Buffer' };
    const ref = ctx.named.get(fullName(type, ctx.namespace)) ?? ctx.named.get(type);
    if (ref !== undefined) return { ts: ref };
    throw new RecordsCodegenError(`${where}: unknown type ${JSON.stringify(type)}`);
  }
  if (Array.isArray(type)) {
    const parts = type.map((t) => tsType(t, where, ctx).ts);
    return { ts: parts.join(' | ') };
  }
  const logical = typeof type.logicalType === 'string' ? type.logicalType : undefined;
  if (logical === 'timestamp-millis') return { ts: 'number', note: 'Epoch milliseconds.' };
  switch (type.type) {
    case 'map':
      return { ts: `Record<string, ${tsType(type.values as AvroType, where, ctx).ts}>` };
    case 'array':
      return { ts: `${wrap(tsType(type.items as AvroType, where, ctx).ts)}[]` };
    case 'enum': {
      const ts = (type.symbols as string[]).map((s) => `'${s}'`).join(' | ');
      register(ctx, type, ts);
      return { ts };
    }
    case 'fixed':
      register(ctx, type, 'Buffer');
      return { ts: 'Buffer' };
    case 'record':
      return { ts: emitRecord(type as unknown as AvroRecord, ctx, []) };
    default:
      // A primitive written as an object, possibly with a logical type we map to its underlying type.
      return tsType(type.type, where, ctx);
  }
}

/** Emits the interface of a record (nested records first) and returns its TypeScript name. */
function emitRecord(schema: AvroRecord, ctx: Context, docSuffix: string[]): string {
  const name = typeNameOf({ name: schema.name, namespace: schema.namespace ?? ctx.namespace });
  register(ctx, schema, name);
  const outer = ctx.namespace;
  if (schema.namespace) ctx.namespace = schema.namespace;
  const lines = [docComment([schema.doc ?? '', ...docSuffix], '').trimEnd(), `export interface ${name} {`];
  for (const field of schema.fields) {
    const { ts, note } = tsType(field.type, `schemas/${ctx.file} field ${field.name}`, ctx);
    const doc = docComment([field.doc ?? '', note ?? ''], '  ');
    if (doc) lines.push(doc.trimEnd());
    lines.push(`  ${field.name}: ${ts};`);
  }
  lines.push('}');
  ctx.namespace = outer;
  ctx.blocks.push(lines.filter((l) => l !== ''));
  return name;
}

function wrap(ts: string): string {
  return ts.includes(' ') ? `(${ts})` : ts;
}

const LINE_WIDTH = 110;

function docComment(lines: string[], indent: string): string {
  const text = lines.filter(Boolean).join(' ').replace(/\*\//g, '*\\/');
  if (!text) return '';
  const single = `${indent}/** ${text} */`;
  if (single.length <= LINE_WIDTH) return `${single}\n`;
  const wrapped: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && `${indent} * ${line} ${word}`.length > LINE_WIDTH) {
      wrapped.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) wrapped.push(line);
  return `${indent}/**\n${wrapped.map((l) => `${indent} * ${l}\n`).join('')}${indent} */\n`;
}

/** The interface name of a record schema. */
export function typeNameOf(schema: { name: string; namespace?: string }): string {
  const full = schema.namespace ? `${schema.namespace}.${schema.name}` : schema.name;
  return TYPE_NAMES[full] ?? schema.name;
}

/** The text of `records.ts` for these schema files (sorted by file name, so the output is stable). */
export function generateRecordsModule(files: SchemaFile[]): string {
  const out: string[] = [
    '// Generated by `npm run records:generate` from schemas/*.avsc. Do not edit: change the schema and regenerate.',
    '/**',
    " * The records on EmoStream's Kafka topics, as TypeScript types generated from the Avro schemas in `schemas/`",
    ' * (the source of truth; `records.test.ts` fails when this file is not what the schemas generate).',
    ' */',
  ];
  for (const { file, text } of [...files].sort((a, b) => a.file.localeCompare(b.file))) {
    const schema = JSON.parse(text) as AvroRecord;
    // Reject anything avsc itself would not accept before mapping it.
    avro.Type.forSchema(schema as avro.Schema);
    if (schema.type !== 'record') {
      throw new RecordsCodegenError(`schemas/${file}: top-level type ${schema.type} is not a record`);
    }
    const ctx: Context = { file, namespace: schema.namespace, named: new Map(), blocks: [] };
    emitRecord(schema, ctx, [`(\`schemas/${file}\`)`]);
    for (const block of ctx.blocks) out.push('', ...block);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The schemas TypeScript code reads or writes, i.e. those `records.ts` types. Any other schema in `schemas/` is the
 * output contract of a Spark job that only Spark writes (`sink.schema` of a `jobs/spark-sql/*.yml`, checked by
 * `job:test`): a new job needs no TypeScript, so its sink schema needs no type until a service reads it
 * (`records.test.ts` checks that every other schema is such a sink).
 */
export const TYPED_SCHEMAS = ['reaction.avsc', 'aggregate.avsc', 'swarm-update.avsc'] as const;

/** Every `*.avsc` file name in `dir` (`schemas/` by default). */
export async function listSchemaFiles(dir: URL = SCHEMAS_DIR): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.avsc')).sort();
}

/** Reads the {@link TYPED_SCHEMAS} from `dir` (`schemas/` by default): `records.ts` is generated from them. */
export async function readSchemaFiles(dir: URL = SCHEMAS_DIR): Promise<SchemaFile[]> {
  return Promise.all(
    TYPED_SCHEMAS.map(async (file) => ({ file, text: await readFile(new URL(file, dir), 'utf8') })),
  );
}
