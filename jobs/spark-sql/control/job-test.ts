import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type FlinkRuntime, flinkRuntime } from '../../../infra/local/flink-runtime.ts';
import { JobError } from './errors.ts';
import { type Engine, type JobPlan, jobFile, loadJob, resolvePlan } from './job-plan.ts';
import { FLINK_RUNNER, loadJobsConfig } from './jobs-config.ts';
import { runnerArgs } from './spark-job.ts';
import { resolveSparkRuntime, type SparkRuntime } from './spark-runtime.ts';

/** One result row (or expected row) of a job: JSON values as the runner writes them. */
export type Row = Record<string, string | number | boolean | null>;

/** How a job's batch result differs from its expected rows. */
export interface RowDiff {
  /** Expected rows absent from the result. */
  missing: Row[];
  /** Result rows nobody expected. */
  unexpected: Row[];
  /** Same key, other values. */
  changed: { expected: Row; actual: Row }[];
}

/**
 * Key of a row: its non-numeric columns (match, window, emoji …); the numeric ones (count, swarm) are its values.
 * Generic so that a job with other columns needs no TypeScript change.
 */
function rowKey(row: Row): string {
  return JSON.stringify(
    Object.keys(row)
      .filter((k) => typeof row[k] !== 'number')
      .sort()
      .map((k) => [k, row[k]]),
  );
}

function sameRow(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (a[k] !== b[k]) return false;
  return true;
}

/** Diffs result rows against expected rows, ignoring order. */
export function diffRows(expected: Row[], actual: Row[]): RowDiff {
  const byKey = new Map<string, Row[]>();
  for (const row of actual) {
    const k = rowKey(row);
    byKey.set(k, [...(byKey.get(k) ?? []), row]);
  }
  const diff: RowDiff = { missing: [], unexpected: [], changed: [] };
  for (const exp of expected) {
    const candidates = byKey.get(rowKey(exp));
    const hit = candidates?.findIndex((r) => sameRow(r, exp)) ?? -1;
    if (candidates && hit >= 0) {
      candidates.splice(hit, 1);
    } else if (candidates && candidates.length > 0) {
      diff.changed.push({ expected: exp, actual: candidates.shift() as Row });
    } else {
      diff.missing.push(exp);
    }
  }
  for (const rest of byKey.values()) diff.unexpected.push(...rest);
  return diff;
}

export function isEmptyDiff(d: RowDiff): boolean {
  return d.missing.length === 0 && d.unexpected.length === 0 && d.changed.length === 0;
}

/** Human-readable diff: one line per differing row, `-` expected, `+` actual. */
export function formatDiff(d: RowDiff): string {
  const line = (r: Row) => JSON.stringify(r);
  const sorted = (rows: Row[]) => rows.map(line).sort();
  return [
    ...sorted(d.missing).map((r) => `  - ${r}   (expected, missing)`),
    ...sorted(d.unexpected).map((r) => `  + ${r}   (unexpected)`),
    ...d.changed.flatMap(({ expected, actual }) => [`  - ${line(expected)}`, `  + ${line(actual)}`]),
  ].join('\n');
}

/** Parses a JSON-lines file of rows. */
export async function readRows(file: string): Promise<Row[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .map((l, i) => [l.trim(), i + 1] as const)
    .filter(([l]) => l.length > 0 && !l.startsWith('//'))
    .map(([l, n]) => {
      try {
        return JSON.parse(l) as Row;
      } catch (err) {
        throw new JobError(`${file}:${n}: not JSON: ${(err as Error).message}`);
      }
    });
}

/** A data test of the yml that returned rows. */
export interface DataTestFailure {
  name: string;
  /** The failing rows (the first 20). */
  rows: Row[];
}

/** A result column and its Spark type, as the runner reports them. */
export interface ResultColumn {
  name: string;
  type: string;
}

/** Outcome of one job's fixture test. */
export interface JobTestResult {
  job: string;
  /** The engine the fixtures ran on (each engine of a job gets a result of its own). */
  engine: Engine;
  file: string;
  ok: boolean;
  rows: number;
  diff: RowDiff;
  /** Where the query's columns disagree with the sink schema's fields. */
  columnProblems: string[];
  dataTests: DataTestFailure[];
  /** Set when the job could not be tested (no fixtures, bad yml …). */
  error?: string;
}

/** Spark types a sink field of each Avro type accepts (to_avro converts these). */
const SPARK_TYPES_OF: Record<string, string[]> = {
  string: ['string'],
  long: ['bigint', 'int'],
  int: ['int'],
  double: ['double', 'float'],
  float: ['float'],
  boolean: ['boolean'],
  'timestamp-millis': ['timestamp'],
  'timestamp-micros': ['timestamp'],
};

function avroTypeName(t: unknown): string {
  if (Array.isArray(t)) return avroTypeName(t.find((x) => x !== 'null'));
  if (t && typeof t === 'object') {
    const o = t as { type?: unknown; logicalType?: string };
    return o.logicalType ?? avroTypeName(o.type);
  }
  return String(t);
}

/**
 * Checks the query's result columns against the sink schema: every field present with a type to_avro can write,
 * and no column the sink would silently drop.
 */
export function checkColumns(columns: ResultColumn[], sinkSchema: string, schemaFile: string): string[] {
  const fields = (JSON.parse(sinkSchema) as { fields: { name: string; type: unknown }[] }).fields;
  const byName = new Map(columns.map((c) => [c.name, c.type]));
  const problems: string[] = [];
  for (const f of fields) {
    const actual = byName.get(f.name);
    const want = avroTypeName(f.type);
    if (actual === undefined) problems.push(`column ${f.name} of ${schemaFile} is missing from the query`);
    else if (!(SPARK_TYPES_OF[want] ?? []).includes(actual))
      problems.push(`column ${f.name} is ${actual}; ${schemaFile} declares ${want}`);
  }
  for (const c of columns) {
    if (!fields.some((f) => f.name === c.name))
      problems.push(`column ${c.name} is not a field of ${schemaFile}`);
  }
  return problems;
}

const emptyDiff = (): RowDiff => ({ missing: [], unexpected: [], changed: [] });

/** Runs a batch runner to its end; rejects with its output's tail when it exits non-zero. */
function runBatch(
  command: string,
  args: string[],
  env: Record<string, string>,
  what: string,
  onOutput?: (chunk: string) => void,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    const onData = (b: Buffer) => {
      const s = b.toString();
      text = (text + s).slice(-20_000);
      onOutput?.(s);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new JobError(`${what} exited ${code}\n${text.slice(-4000)}`)),
    );
  });
}

/** Options of {@link runJobTests}. */
export interface JobTestOptions {
  /** @default the provisioned Spark runtime */
  runtime?: SparkRuntime;
  /** @default the provisioned Flink runtime (provisioned now if missing, only when a job runs on Flink) */
  flinkRuntime?: FlinkRuntime;
  /** Only these engines of each job. @default every engine the job lists */
  engines?: Engine[];
  onOutput?: (chunk: string) => void;
}

/**
 * Runs every given job's queries in batch mode over its fixtures, on every engine the job lists (one batch run per
 * engine for all jobs, as the engines start slowly), diffs each result against the job's expected rows, checks its
 * columns against the sink schema and runs its data tests: one result per job and engine.
 */
export async function runJobTests(jobs: string[], options: JobTestOptions = {}): Promise<JobTestResult[]> {
  const results: JobTestResult[] = [];
  const runnable: JobPlan[] = [];
  // Topics and checkpoints do not matter in batch mode: the default configuration resolves the logical names.
  const config = loadJobsConfig({});
  for (const arg of jobs) {
    const file = jobFile(arg);
    const name = path.basename(file, '.yml');
    const failed = (error: string, engine: Engine = 'spark') =>
      results.push({
        job: name,
        engine,
        file,
        ok: false,
        rows: 0,
        diff: emptyDiff(),
        columnProblems: [],
        dataTests: [],
        error,
      });
    let plans: JobPlan[];
    try {
      const job = await loadJob(file);
      const engines = job.engines.filter((e) => !options.engines || options.engines.includes(e));
      plans = await Promise.all(engines.map((e) => resolvePlan(job, config, e)));
    } catch (err) {
      failed((err as Error).message);
      continue;
    }
    for (const plan of plans) {
      if (!existsSync(plan.tests.fixtures))
        failed(`no fixtures (${path.basename(plan.tests.fixtures)})`, plan.engine);
      else if (!existsSync(plan.tests.expected))
        failed(`no expected rows (${path.basename(plan.tests.expected)})`, plan.engine);
      else runnable.push(plan);
    }
  }
  if (runnable.length === 0) return results;
  const out = await mkdtemp(path.join(os.tmpdir(), 'emostream-job-test-'));
  try {
    const planFiles = async (engine: Engine) => {
      const dir = path.join(out, engine);
      await mkdir(dir, { recursive: true });
      const files = await Promise.all(
        runnable
          .filter((p) => p.engine === engine)
          .map(async (plan) => {
            const f = path.join(dir, `${plan.name}.plan.json`);
            await writeFile(f, JSON.stringify(plan));
            return f;
          }),
      );
      return { dir, args: [...files.flatMap((f) => ['--plan', f]), '--out', dir] };
    };
    if (runnable.some((p) => p.engine === 'spark')) {
      const rt = options.runtime ?? (await resolveSparkRuntime());
      const { args } = await planFiles('spark');
      await runBatch(
        rt.sparkSubmit,
        runnerArgs(rt, 'local[2]', ['batch', ...args]),
        rt.env,
        'spark-submit batch',
        options.onOutput,
      );
    }
    if (runnable.some((p) => p.engine === 'flink')) {
      const rt = options.flinkRuntime ?? (await flinkRuntime());
      const { args } = await planFiles('flink');
      await runBatch(rt.python, [FLINK_RUNNER, 'batch', ...args], rt.env, 'Flink batch', options.onOutput);
    }
    for (const plan of runnable) {
      const at = (ext: string) => path.join(out, plan.engine, `${plan.name}.${ext}`);
      const actual = await readRows(at('jsonl'));
      const expected = await readRows(plan.tests.expected);
      const diff = diffRows(expected, actual);
      const columns = JSON.parse(await readFile(at('columns.json'), 'utf8')) as ResultColumn[];
      const columnProblems = checkColumns(columns, plan.sink.schema, plan.sink.schemaFile);
      const dataTests = (JSON.parse(await readFile(at('tests.json'), 'utf8')) as DataTestFailure[]).filter(
        (t) => t.rows.length > 0,
      );
      results.push({
        job: plan.name,
        engine: plan.engine,
        file: plan.file,
        ok: isEmptyDiff(diff) && columnProblems.length === 0 && dataTests.length === 0,
        rows: actual.length,
        diff,
        columnProblems,
        dataTests,
      });
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return results.sort((a, b) => a.job.localeCompare(b.job) || a.engine.localeCompare(b.engine));
}
