/**
 * A job is `<job>.sql` (the query) beside `<job>.yml` (its contract, parameters and tests), as a dbt model beside
 * its yml. This module is the one parser of both: {@link loadJob} reads and validates the files, {@link resolvePlan}
 * turns them into the {@link JobPlan} the runner executes (topics resolved from logical names, schema texts, key,
 * trigger, watermark, dedupe, checkpoint of the job's stateful shape).
 *
 * A job may run on more than one engine (`engines:` in the yml, `spark` by default): one contract (source, sink,
 * key, dedupe, parameters, fixtures, expected rows, data tests) and one query per engine where the dialects differ
 * (`<job>.sql` for Spark, `<job>.flink.sql` for Flink). A plan is resolved for one engine.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { loadSchema } from '../../../common/avro-serde.ts';
import { defaultTopic } from '../../../common/topics.ts';
import { JobError } from './errors.ts';
import { JOBS_DIR, type JobsConfig, SCHEMAS_DIR } from './jobs-config.ts';

const INTERVAL = /^(\d+) (millisecond|second|minute|hour|day)s?$/;
const Interval = z.string().regex(INTERVAL, 'an interval such as "2 seconds"');
const UNIT_MS = { millisecond: 1, second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/** Milliseconds of an interval as the job files write it ("500 milliseconds", "2 seconds"). */
export function intervalMs(interval: string): number {
  const m = INTERVAL.exec(interval);
  if (m === null) throw new JobError(`${JSON.stringify(interval)} is not an interval such as "2 seconds"`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
const Column = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a column name (lower case, digits, _)');
const Logical = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a logical topic name (lower case, digits, _)');
const SchemaFile = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*\.avsc$/, 'a file name in schemas/, e.g. reaction.avsc');
const JsonlFile = z.string().regex(/^[^/\\]+\.jsonl$/, 'a .jsonl file beside the job');

/** Types a parameter may declare; the value is checked against its type. */
const Param = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('interval'), value: Interval, stateless: z.boolean().default(false) }),
  z.strictObject({
    type: z.literal('int'),
    value: z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d*$/)]).transform(String),
    stateless: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('column'), value: Column, stateless: z.boolean().default(false) }),
]);

/** A dbt-style data test over the query's result over the fixtures; each compiles to SQL selecting failing rows. */
const DataTest = z.union([
  z.strictObject({ unique: z.array(Column).min(1) }),
  z.strictObject({ not_null: z.array(Column).min(1) }),
  z.strictObject({ expression: z.string().min(1) }),
]);

/** The engines a job can run on. */
export const ENGINES = ['spark', 'flink'] as const;
/** An engine a job runs on. */
export type Engine = (typeof ENGINES)[number];

/** File name of a job's query for an engine: `<job>.sql` (Spark) or `<job>.<engine>.sql`. */
export const queryFileName = (job: string, engine: Engine) =>
  engine === 'spark' ? `${job}.sql` : `${job}.${engine}.sql`;

/** Names the SQL may use besides the declared params; a param may not redefine them. */
const BUILT_INS = ['source', 'event_time', 'watermark'] as const;

/** The schema of `<job>.yml`. */
export const JobFileSchema = z
  .strictObject({
    description: z.string().min(1),
    /** Engines the job runs on, the first being the one job:submit and npm start use; each has its own query. */
    engines: z
      .array(z.enum(ENGINES))
      .min(1)
      .refine((e) => new Set(e).size === e.length, 'an engine is listed once')
      .default(['spark']),
    source: z.strictObject({
      /** Logical topic; also the name of the view the query reads (`${source}`). */
      topic: Logical,
      schema: SchemaFile,
      event_time: Column,
      watermark: Interval,
      /** Columns whose repeat within the watermark is dropped (`dropDuplicatesWithinWatermark`). */
      dedupe: z.array(Column).default([]),
    }),
    sink: z.strictObject({
      topic: Logical,
      schema: SchemaFile,
      key: Column,
      /**
       * Columns identifying a row, of which consumers keep the latest (the idempotent row's key). An engine whose
       * sink upserts by key (Flink's upsert-kafka) writes these columns as the Kafka key; required for Flink.
       */
      upsert_key: z.array(Column).min(1).optional(),
      output_mode: z.enum(['append', 'update', 'complete']),
      /** Partitions of the sink topic when the launcher has to create it. */
      partitions: z.number().int().positive().default(6),
    }),
    trigger: Interval,
    params: z
      .record(Column, Param)
      .default({})
      .refine((p) => BUILT_INS.every((b) => !(b in p)), `params may not redefine ${BUILT_INS.join(', ')}`),
    tests: z.strictObject({
      fixtures: JsonlFile,
      expected: JsonlFile,
      /** Result columns not compared with the expected rows (e.g. processing time). */
      ignore_columns: z.array(Column).default([]),
      data: z.array(DataTest).default([]),
    }),
  })
  .refine((f) => !f.engines.includes('flink') || f.sink.output_mode === 'append' || f.sink.upsert_key, {
    message:
      'a job on flink with output mode update or complete needs sink.upsert_key (the row key it upserts)',
    path: ['sink', 'upsert_key'],
  });

/** A validated `<job>.yml`. */
export type JobFile = z.infer<typeof JobFileSchema>;

/** One declared parameter. */
export interface JobParam {
  type: 'interval' | 'int' | 'column';
  value: string;
  /** Changing it may resume the existing checkpoint. */
  stateless: boolean;
}

/** One engine's query of a job. */
export interface JobQuery {
  /** Absolute path of the query file (`<job>.sql`, `<job>.flink.sql`). */
  file: string;
  /** The query as written (placeholders unsubstituted). */
  text: string;
  /** The query with every `${name}` substituted. */
  sql: string;
}

/** A job's files, read and validated, not yet tied to a deployment (no topics, no checkpoint root). */
export interface JobDefinition {
  name: string;
  /** Absolute path of `<job>.yml`. */
  file: string;
  /** Engines it runs on, the default first. */
  engines: Engine[];
  /** The query of each of {@link JobDefinition.engines}. */
  queries: Partial<Record<Engine, JobQuery>>;
  /** Absolute path of the default engine's query. */
  sqlFile: string;
  spec: JobFile;
  params: Record<string, JobParam>;
  /** The default engine's query as written (placeholders unsubstituted). */
  text: string;
  /** The default engine's query with every `${name}` substituted. */
  sql: string;
}

/** A data test compiled to a query over the view `result`: every row it returns is a failure. */
export interface CompiledDataTest {
  name: string;
  sql: string;
}

/** Everything the runner needs to execute a job; serialised to JSON for `runner.py … --plan`. */
export interface JobPlan {
  name: string;
  file: string;
  /** The engine this plan runs on; {@link JobPlan.sql} is that engine's query. */
  engine: Engine;
  sql: string;
  source: {
    logical: string;
    topic: string;
    /** The view the query reads. */
    view: string;
    /** Avro reader schema (JSON text). */
    schema: string;
    schemaFile: string;
    eventTime: string;
    watermark: string;
    dedupe: string[];
  };
  sink: {
    logical: string;
    topic: string;
    /** Avro writer schema (JSON text): the query's columns must be its fields. */
    schema: string;
    schemaFile: string;
    key: string;
    /** Columns identifying a row (`sink.upsert_key`, else the key alone): an upserting sink's Kafka key. */
    upsertKey: string[];
    outputMode: 'append' | 'update' | 'complete';
    partitions: number;
  };
  trigger: string;
  /** `<root>/<job>-<hash of the stateful shape>` (Spark), `<root>/<job>-<engine>-<hash>` (other engines). */
  checkpoint: string;
  shapeHash: string;
  tests: {
    fixtures: string;
    expected: string;
    ignoreColumns: string[];
    data: CompiledDataTest[];
  };
}

const PLACEHOLDER_RE = /\$\{(\w+)\}/g;

function formatIssues(file: string, error: z.ZodError): string {
  return `${file}: ${error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`;
}

/** Values of the names a query may use: the built-ins and the declared params. */
function namesOf(spec: JobFile): Record<string, JobParam> {
  const params: Record<string, JobParam> = {
    source: { type: 'column', value: spec.source.topic, stateless: false },
    event_time: { type: 'column', value: spec.source.event_time, stateless: false },
    watermark: { type: 'interval', value: spec.source.watermark, stateless: false },
  };
  for (const [name, p] of Object.entries(spec.params)) params[name] = p;
  return params;
}

/**
 * A parameter's value as an engine's SQL writes it. Spark's queries quote intervals themselves
 * (`window(ts, '${window}')`); Flink's take a whole literal (`TUMBLE(ts, ${window})` → `INTERVAL '2' SECOND`).
 */
export function renderParam(p: JobParam, engine: Engine): string {
  if (p.type !== 'interval' || engine === 'spark') return p.value;
  const [n, unit] = p.value.split(' ') as [string, string];
  return `INTERVAL '${n}' ${unit.replace(/s$/, '').toUpperCase()}`;
}

/**
 * A parameter's value in a data test's expression: an interval is a whole literal on every engine
 * (`window_start + ${window}` → Spark's `INTERVAL 10 seconds`, Flink's `INTERVAL '10' SECOND`), since an expression
 * has no engine-specific quoting of its own to put around it.
 */
export function renderExpressionParam(p: JobParam, engine: Engine): string {
  if (p.type === 'interval' && engine === 'spark') return `INTERVAL ${p.value}`;
  return renderParam(p, engine);
}

/** Substitutes `${name}` in `text` as `engine` writes it, collecting undeclared names into `problems`. */
function substitute(
  text: string,
  params: Record<string, JobParam>,
  problems: string[],
  where: string,
  engine: Engine = 'spark',
  render: (p: JobParam, engine: Engine) => string = renderParam,
): string {
  return text.replace(PLACEHOLDER_RE, (whole, name: string) => {
    const p = params[name];
    if (p) return render(p, engine);
    problems.push(`${where}: ${whole} is not a declared param (declared: ${Object.keys(params).join(', ')})`);
    return whole;
  });
}

/** Removes SQL line comments so that `${…}` in a comment is neither substituted nor part of the shape. */
const stripComments = (text: string) =>
  text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');

/**
 * Parses a job from its texts: the yml and the query of each engine it lists (a single string is the query of its
 * default engine, the first listed); `file` (the yml path) names it in errors. Throws {@link JobError} naming every
 * problem at once.
 */
export function parseJob(
  ymlText: string,
  sqlTexts: string | Partial<Record<Engine, string>>,
  file: string,
): JobDefinition {
  let raw: unknown;
  try {
    raw = parseYaml(ymlText);
  } catch (err) {
    throw new JobError(`${file}: not YAML: ${(err as Error).message}`, { cause: err });
  }
  const parsed = JobFileSchema.safeParse(raw);
  if (!parsed.success) throw new JobError(formatIssues(file, parsed.error));
  const spec = parsed.data;
  const params = namesOf(spec);
  const problems: string[] = [];
  const name = path.basename(file, '.yml');
  const texts = typeof sqlTexts === 'string' ? { [spec.engines[0] as Engine]: sqlTexts } : sqlTexts;
  const queries: Partial<Record<Engine, JobQuery>> = {};
  for (const engine of spec.engines) {
    const where = queryFileName(name, engine);
    const text = texts[engine];
    if (text === undefined) {
      // A single text is the default engine's query alone (the others are then not part of the definition).
      if (typeof sqlTexts !== 'string') problems.push(`engine ${engine} needs its query ${where}`);
      continue;
    }
    const query = stripComments(text);
    if (query.trim().length === 0) problems.push(`${where} holds no query`);
    const sql = substitute(query, params, problems, where, engine);
    queries[engine] = { file: path.resolve(path.dirname(file), where), text, sql };
  }
  if (problems.length > 0) throw new JobError(`${file}: ${[...new Set(problems)].join('; ')}`);
  const main = queries[spec.engines[0] as Engine] as JobQuery;
  return {
    name,
    file: path.resolve(file),
    engines: [...spec.engines],
    queries,
    sqlFile: main.file,
    spec,
    params: Object.fromEntries(Object.entries(spec.params).map(([k, p]) => [k, { ...p }])),
    text: main.text,
    sql: main.sql,
  };
}

/** Resolves a job argument: a name in jobs/spark-sql (`emoji-swarm`) or a path to its `.yml` or `.sql`. */
export function jobFile(nameOrPath: string): string {
  if (/\.(yml|sql)$/.test(nameOrPath)) return path.resolve(nameOrPath.replace(/\.sql$/, '.yml'));
  if (!/^[a-z0-9][a-z0-9-]*$/.test(nameOrPath)) throw new JobError(`not a job name: ${nameOrPath}`);
  return path.join(JOBS_DIR, `${nameOrPath}.yml`);
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new JobError(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and parses a job: its name or the path of its `.yml` (or `.sql`), with the query of each engine. */
export async function loadJob(nameOrPath: string): Promise<JobDefinition> {
  const yml = jobFile(nameOrPath);
  const ymlText = await readText(yml, 'job');
  let engines: Engine[] = ['spark'];
  try {
    engines = JobFileSchema.parse(parseYaml(ymlText)).engines;
  } catch {
    // parseJob names the problem
  }
  const name = path.basename(yml, '.yml');
  const texts = await Promise.all(
    engines.map((e) => readText(path.join(path.dirname(yml), queryFileName(name, e)), `${e} query`)),
  );
  return parseJob(ymlText, Object.fromEntries(engines.map((e, i) => [e, texts[i]])), yml);
}

/** The engines of `job` to run: `engine` alone (refused when the job does not list it), else its default. */
export function engineOf(job: JobDefinition, engine?: string): Engine {
  if (engine === undefined) return job.engines[0] as Engine;
  if (!job.engines.includes(engine as Engine)) {
    throw new JobError(`${job.name} does not run on ${engine} (its engines: ${job.engines.join(', ')})`);
  }
  return engine as Engine;
}

/** A job as it runs on `engine`: that engine's query in place of the default's. */
function onEngine(job: JobDefinition, engine: Engine): JobDefinition {
  const query = job.queries[engine];
  if (!query)
    throw new JobError(`${job.name} does not run on ${engine} (its engines: ${job.engines.join(', ')})`);
  return { ...job, sqlFile: query.file, text: query.text, sql: query.sql };
}

/**
 * The job's stateful shape: what Spark's checkpointed state depends on. The query with comments and blank space
 * normalised and stateless parameters left as placeholders (so editing the divisor or trigger resumes, editing the
 * window, watermark or grouping does not), the stateful values (params, event time, watermark, dedupe key, output
 * mode) and the source topic it reads.
 */
export function statefulShape(job: JobDefinition, sourceTopic: string, engine: Engine = 'spark'): string {
  const params = namesOf(job.spec);
  const query = stripComments(job.text)
    .replace(PLACEHOLDER_RE, (whole, name: string) =>
      params[name] && !params[name].stateless ? params[name].value : whole,
    )
    .replace(/\s+/g, ' ')
    .trim();
  const stateful = Object.entries(params)
    .filter(([, p]) => !p.stateless)
    .map(([name, p]) => `${name}=${p.value}`)
    .concat(`dedupe=${job.spec.source.dedupe.join(',')}`, `output_mode=${job.spec.sink.output_mode}`)
    .sort();
  // Spark's shape is as it was before engines existed, so existing checkpoints resume.
  return JSON.stringify({
    query,
    params: stateful,
    source: sourceTopic,
    ...(engine === 'spark' ? {} : { engine }),
  });
}

/** Short hash of {@link statefulShape}; part of the checkpoint directory name. */
export function shapeHash(job: JobDefinition, sourceTopic: string, engine: Engine = 'spark'): string {
  return createHash('sha256')
    .update(statefulShape(job, sourceTopic, engine))
    .digest('hex')
    .slice(0, 12);
}

/**
 * Checkpoint directory name: `<job>-<shape hash>` (Spark) or `<job>-<engine>-<shape hash>`, so an incompatible edit
 * never resumes an old checkpoint, nor one engine another's.
 */
export function checkpointName(job: JobDefinition, sourceTopic: string, engine: Engine = 'spark'): string {
  return `${job.name}-${engine === 'spark' ? '' : `${engine}-`}${shapeHash(job, sourceTopic, engine)}`;
}

/** Whether a checkpoint root is a URI (HDFS, object store) rather than a local path. */
export const isUriRoot = (root: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(root);

/** Kafka topic of a logical name: the configuration's (`<NAME>_TOPIC`), else {@link defaultTopic}'s convention. */
export function topicOf(config: JobsConfig, job: JobDefinition, which: 'source' | 'sink'): string {
  const logical = job.spec[which].topic;
  return config.topics[logical] ?? defaultTopic(logical);
}

const quote = (col: string) => `\`${col}\``;

/** Compiles the yml's data tests to queries over the view `result` that return the failing rows. */
export function compileDataTests(job: JobDefinition, engine: Engine = 'spark'): CompiledDataTest[] {
  const params = namesOf(job.spec);
  const problems: string[] = [];
  const tests = job.spec.tests.data.map((t): CompiledDataTest => {
    if ('unique' in t) {
      const cols = t.unique.map(quote).join(', ');
      return {
        name: `unique(${t.unique.join(', ')})`,
        // `result` quoted and no `rows` alias: both are reserved words in Flink SQL; backquotes are both dialects'.
        sql: `SELECT ${cols}, count(*) AS repeats FROM \`result\` GROUP BY ${cols} HAVING count(*) > 1`,
      };
    }
    if ('not_null' in t) {
      return {
        name: `not_null(${t.not_null.join(', ')})`,
        sql: `SELECT * FROM \`result\` WHERE ${t.not_null.map((c) => `${quote(c)} IS NULL`).join(' OR ')}`,
      };
    }
    const expr = substitute(t.expression, params, problems, 'tests.data', engine, renderExpressionParam);
    return {
      name: `expression(${t.expression})`,
      sql: `SELECT * FROM \`result\` WHERE NOT coalesce(${expr}, false)`,
    };
  });
  if (problems.length > 0) throw new JobError(`${job.file}: ${problems.join('; ')}`);
  return tests;
}

async function readSchema(file: string): Promise<string> {
  try {
    return await loadSchema(file.replace(/\.avsc$/, ''), pathToFileURL(SCHEMAS_DIR));
  } catch (err) {
    throw new JobError(`schema ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Resolves a job against a deployment's configuration for one engine (default: the job's first): the plan that
 * engine's runner executes.
 */
export async function resolvePlan(
  definition: JobDefinition,
  config: JobsConfig,
  engine?: Engine,
): Promise<JobPlan> {
  const on = engineOf(definition, engine);
  const picked = onEngine(definition, on);
  // The test-only override changes the job itself, so the shape hash (and with it the checkpoint) changes too.
  const job = config.dropDedupe
    ? { ...picked, spec: { ...picked.spec, source: { ...picked.spec.source, dedupe: [] } } }
    : picked;
  const sourceTopic = topicOf(config, job, 'source');
  const sinkTopic = topicOf(config, job, 'sink');
  const name = checkpointName(job, sourceTopic, on);
  const checkpoint = isUriRoot(config.checkpointRoot)
    ? `${config.checkpointRoot.replace(/\/+$/, '')}/${name}`
    : path.join(config.checkpointRoot, name);
  const { source, sink, tests } = job.spec;
  const [sourceSchema, sinkSchema] = await Promise.all([readSchema(source.schema), readSchema(sink.schema)]);
  const dir = path.dirname(job.file);
  return {
    name: job.name,
    file: job.file,
    engine: on,
    sql: job.sql,
    source: {
      logical: source.topic,
      topic: sourceTopic,
      view: source.topic,
      schema: sourceSchema,
      schemaFile: source.schema,
      eventTime: source.event_time,
      watermark: source.watermark,
      dedupe: source.dedupe,
    },
    sink: {
      logical: sink.topic,
      topic: sinkTopic,
      schema: sinkSchema,
      schemaFile: sink.schema,
      key: sink.key,
      upsertKey: sink.upsert_key ?? [sink.key],
      outputMode: sink.output_mode,
      partitions: sink.partitions,
    },
    trigger: job.spec.trigger,
    checkpoint,
    shapeHash: shapeHash(job, sourceTopic, on),
    tests: {
      fixtures: path.join(dir, tests.fixtures),
      expected: path.join(dir, tests.expected),
      ignoreColumns: tests.ignore_columns,
      data: compileDataTests(job, on),
    },
  };
}

/** Reads a job and resolves its plan (for `engine`, default the job's first) in one step. */
export async function loadPlan(nameOrPath: string, config: JobsConfig, engine?: Engine): Promise<JobPlan> {
  return resolvePlan(await loadJob(nameOrPath), config, engine);
}

/** Whether `engine` is one of {@link ENGINES}. */
export const isEngine = (engine: string): engine is Engine => (ENGINES as readonly string[]).includes(engine);

/** The engines a job's yml lists (`spark` when it cannot be parsed: the full load says why), read synchronously. */
export function jobEngines(job: string): readonly string[] {
  const yml = jobFile(job);
  let text: string;
  try {
    text = readFileSync(yml, 'utf8');
  } catch (err) {
    throw new JobError(`cannot read job ${yml}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = JobFileSchema.safeParse(parseYaml(text));
  return parsed.success ? parsed.data.engines : ['spark'];
}

/** The engine a job runs on when none is asked for: the first its yml lists. */
export const defaultEngine = (job: string): string => jobEngines(job)[0] ?? 'spark';

/**
 * Checks, before anything starts, that every one of `jobs` runs on `engine` (its yml lists it); throws one
 * {@link JobError} naming each job that does not and what to do. Read synchronously: the supervisor builds its
 * specs so. A yml that does not parse is left to the job's own start, which names its problems.
 */
export function assertJobsRunOn(jobs: readonly string[], engine: string): void {
  if (!isEngine(engine)) throw new JobError(`unknown engine ${engine} (engines: ${ENGINES.join(', ')})`);
  const lacking: string[] = [];
  for (const job of jobs) {
    const engines = jobEngines(job);
    if (!engines.includes(engine)) lacking.push(`${job} (its engines: ${engines.join(', ')})`);
  }
  if (lacking.length === 0) return;
  const runnable = jobs.filter((j) => !lacking.some((l) => l.startsWith(`${j} `)));
  throw new JobError(
    `engine ${engine}: ${lacking.join('; ')} ${lacking.length === 1 ? 'does' : 'do'} not run on ${engine}. ` +
      (runnable.length > 0 ? `Run only the jobs that do (--jobs ${runnable.join(',')}), or add ` : 'Add ') +
      `a <job>.${engine}.sql and list ${engine} under engines: in the job's yml.`,
  );
}

const JobsListSchema = z.strictObject({
  jobs: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a job name in jobs/spark-sql')).min(1),
});

/** The jobs list `npm start` runs. */
export const JOBS_LIST = path.join(JOBS_DIR, 'jobs.yml');

/** The jobs `npm start` runs, from {@link JOBS_LIST} (read synchronously: the supervisor builds its specs so). */
export function loadJobsList(file = JOBS_LIST): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new JobError(`cannot read jobs list ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = JobsListSchema.safeParse(parseYaml(text));
  if (!parsed.success) throw new JobError(formatIssues(file, parsed.error));
  return parsed.data.jobs;
}
