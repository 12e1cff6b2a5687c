import { readdir, readFile } from 'node:fs/promises';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AggregateRow, ReactionRecord, SwarmWindow } from './records.ts';
import {
  generateRecordsModule,
  listSchemaFiles,
  RECORDS_FILE,
  readSchemaFiles,
  TYPED_SCHEMAS,
  typeNameOf,
} from './records-codegen.ts';

describe('common/records.ts is generated from schemas/', () => {
  it('types every schema but the sinks only Spark jobs write (a new job needs no TypeScript)', async () => {
    const jobsDir = new URL('../jobs/spark-sql/', import.meta.url);
    const ymls = (await readdir(jobsDir)).filter((f) => f.endsWith('.yml') && f !== 'jobs.yml');
    const sinks = await Promise.all(
      ymls.map(
        async (f) =>
          (parse(await readFile(new URL(f, jobsDir), 'utf8')) as { sink: { schema: string } }).sink.schema,
      ),
    );
    const typed: readonly string[] = TYPED_SCHEMAS;
    for (const file of await listSchemaFiles()) {
      if (!typed.includes(file))
        expect(sinks, `${file}: neither typed in records.ts nor a job's sink`).toContain(file);
    }
  });

  it('is exactly what the typed schemas generate (run `npm run records:generate` after a schema change)', async () => {
    const files = await readSchemaFiles();
    expect(files.map((f) => f.file)).toContain('swarm-update.avsc');
    expect(await readFile(RECORDS_FILE, 'utf8')).toBe(generateRecordsModule(files));
  });

  it('declares one interface per schema file, with the fields of the schema in order', async () => {
    const module = await readFile(RECORDS_FILE, 'utf8');
    for (const { file, text } of await readSchemaFiles()) {
      const schema = JSON.parse(text) as { name: string; namespace?: string; fields: { name: string }[] };
      const body = new RegExp(`export interface ${typeNameOf(schema)} \\{([\\s\\S]*?)\\n\\}`).exec(module);
      expect(body, file).not.toBeNull();
      const fields = [...(body?.[1] ?? '').matchAll(/^ {2}(\w+):/gm)].map((m) => m[1]);
      expect(fields, file).toEqual(schema.fields.map((f) => f.name));
    }
  });

  it('gives types that Avro round-trips losslessly (samples typed by the generated interfaces)', async () => {
    const samples: Record<string, ReactionRecord | AggregateRow | SwarmWindow> = {
      'reaction.avsc': {
        event_id: '00000000-0000-4000-8000-000000000000',
        match_id: 'm',
        user_id: 'u',
        emoji: '🔥',
        client_ts: 1,
        ingest_ts: 2,
      },
      'aggregate.avsc': {
        match_id: 'm',
        window_start: 2000,
        window_end: 4000,
        emoji: '🔥',
        count: 3785,
        swarm: 3,
        emitted_at: 4100,
      },
      'swarm-update.avsc': {
        match_id: 'm',
        window_start: 2000,
        window_end: 4000,
        counts: { '🔥': 3785 },
        swarm: { '🔥': 3 },
        emitted_at: 4100,
        routed_at: 4120,
        aggregated_at: 4110,
      },
    };
    for (const { file, text } of await readSchemaFiles()) {
      const sample = samples[file];
      if (sample === undefined) continue; // a new schema: covered by the freshness test above
      const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
      expect(type.isValid(sample), file).toBe(true);
      expect({ ...type.fromBuffer(type.toBuffer(sample)) }, file).toEqual(sample);
    }
  });

  it('maps nullable unions, arrays, enums, timestamps and nested records, and refuses an unknown type', () => {
    const schema = {
      type: 'record',
      name: 'Probe',
      fields: [
        { name: 'a', type: ['null', 'string'], doc: 'maybe' },
        { name: 'b', type: { type: 'array', items: ['null', 'long'] } },
        { name: 'c', type: { type: 'enum', name: 'E', symbols: ['X', 'Y'] } },
        { name: 'd', type: { type: 'long', logicalType: 'timestamp-millis' } },
      ],
    };
    const text = generateRecordsModule([{ file: 'probe.avsc', text: JSON.stringify(schema) }]);
    expect(text).toContain('export interface Probe {');
    expect(text).toContain('  /** maybe */\n  a: null | string;');
    expect(text).toContain('  b: (null | number)[];');
    expect(text).toContain("  c: 'X' | 'Y';");
    expect(text).toContain('  /** Epoch milliseconds. */\n  d: number;');

    const nested = {
      type: 'record',
      name: 'Trend',
      namespace: 'io.emostream.v1',
      fields: [
        {
          name: 'top',
          type: {
            type: 'array',
            items: {
              type: 'record',
              name: 'Share',
              doc: 'One emoji and its share.',
              fields: [
                { name: 'emoji', type: 'string' },
                { name: 'share', type: 'double' },
              ],
            },
          },
        },
        { name: 'runner_up', type: ['null', 'Share'] },
      ],
    };
    const trend = generateRecordsModule([{ file: 'trend.avsc', text: JSON.stringify(nested) }]);
    expect(trend).toContain(
      '/** One emoji and its share. */\nexport interface Share {\n  emoji: string;\n  share: number;\n}',
    );
    expect(trend).toContain('export interface Trend {\n  top: Share[];\n  runner_up: null | Share;\n}');
    expect(trend.indexOf('interface Share')).toBeLessThan(trend.indexOf('interface Trend'));

    const unknownRef = { type: 'record', name: 'Outer', fields: [{ name: 'inner', type: 'Nowhere' }] };
    // avsc refuses it first; the generator would name the field too.
    expect(() => generateRecordsModule([{ file: 'outer.avsc', text: JSON.stringify(unknownRef) }])).toThrow(
      /Nowhere/,
    );
  });
});
