import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JobError } from './errors.ts';

/** Types a header parameter may declare; each value is checked against its type's pattern. */
export const PARAM_TYPES = {
  interval: /^\d+ (millisecond|second|minute|hour|day)s?$/,
  int: /^[1-9]\d*$/,
  topic: /^[a-z][a-z0-9_]*$/,
  column: /^[a-z_][a-z0-9_]*$/,
  mode: /^(append|update|complete)$/,
} as const;

export type ParamType = keyof typeof PARAM_TYPES;

/** One `-- @param <name> <type> = <value> [stateless]` line of a job's header. */
export interface JobParam {
  type: ParamType;
  value: string;
  /** False when marked `[stateless]`: changing it may resume the existing checkpoint. */
  stateful: boolean;
}

/** Parameters every job must declare: the runner needs them to wire source, sink, watermark and trigger. */
export const REQUIRED_PARAMS = [
  'window',
  'watermark',
  'trigger',
  'source',
  'sink',
  'event_time',
  'sink_key',
  'output_mode',
] as const;

/** A parsed `jobs/spark-sql/<name>.sql`. */
export interface SqlJob {
  name: string;
  /** Absolute path of the SQL file. */
  file: string;
  params: Record<string, JobParam>;
  /** The query with every `${param}` substituted, as the runner executes it. */
  sql: string;
  /** The file text as written (parameters unsubstituted). */
  text: string;
}

// Same pattern as PARAM_RE in jobs/spark-sql/runner.py: the two parsers must agree (checked by a test).
const PARAM_RE = /^--\s*@param\s+(\w+)\s+(\w+)\s*=\s*(.*?)\s*(\[stateless\])?\s*$/;
const PLACEHOLDER_RE = /\$\{(\w+)\}/g;

/** Parses a job's text; `file` names it in errors. Throws {@link JobError} naming every problem at once. */
export function parseJob(text: string, file: string): SqlJob {
  const problems: string[] = [];
  const params: Record<string, JobParam> = {};
  for (const line of text.split('\n')) {
    const m = PARAM_RE.exec(line.trim());
    if (!m) continue;
    const [, name = '', type = '', value = '', stateless] = m;
    if (!(type in PARAM_TYPES)) {
      problems.push(`@param ${name}: unknown type ${type} (one of ${Object.keys(PARAM_TYPES).join(', ')})`);
      continue;
    }
    if (!PARAM_TYPES[type as ParamType].test(value)) {
      problems.push(`@param ${name}: ${JSON.stringify(value)} is not a valid ${type}`);
      continue;
    }
    params[name] = { type: type as ParamType, value, stateful: stateless === undefined };
  }
  const missing = REQUIRED_PARAMS.filter((p) => !(p in params));
  if (missing.length > 0) problems.push(`header lacks @param ${missing.join(', ')}`);
  // Comment lines keep their `${...}` text: only the query is substituted (as in runner.py).
  const sql = text
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('--')
        ? line
        : line.replace(PLACEHOLDER_RE, (whole, name: string) => {
            const p = params[name];
            if (p) return p.value;
            problems.push(`${whole} is not a declared @param`);
            return whole;
          }),
    )
    .join('\n');
  if (problems.length > 0) throw new JobError(`${file}: ${[...new Set(problems)].join('; ')}`);
  return { name: path.basename(file, '.sql'), file: path.resolve(file), params, sql, text };
}

/** Reads and parses a job file. */
export async function loadJob(file: string): Promise<SqlJob> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new JobError(`cannot read job ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseJob(text, file);
}

/** Value of a declared parameter (required ones are guaranteed by {@link parseJob}). */
export function param(job: SqlJob, name: string): string {
  const p = job.params[name];
  if (!p) throw new JobError(`${job.file}: no @param ${name}`);
  return p.value;
}

/**
 * The job's stateful shape: what Spark's checkpointed state depends on. The query with comments and blank space
 * normalised and stateless parameters left as placeholders (so editing the divisor or trigger resumes, editing the
 * window, watermark or grouping does not), the stateful parameter values, and the source topic it reads.
 */
export function statefulShape(job: SqlJob, sourceTopic: string): string {
  const query = job.text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .map((line) =>
      line.replace(PLACEHOLDER_RE, (whole, name: string) =>
        job.params[name]?.stateful ? (job.params[name]?.value ?? whole) : whole,
      ),
    )
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  const stateful = Object.entries(job.params)
    .filter(([, p]) => p.stateful)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, p]) => `${name}=${p.value}`);
  return JSON.stringify({ query, params: stateful, source: sourceTopic });
}

/** Short hash of {@link statefulShape}; part of the checkpoint directory name. */
export function shapeHash(job: SqlJob, sourceTopic: string): string {
  return createHash('sha256').update(statefulShape(job, sourceTopic)).digest('hex').slice(0, 12);
}

/** Checkpoint directory name: `<job>-<shape hash>`, so an incompatible edit never resumes an old checkpoint. */
export function checkpointName(job: SqlJob, sourceTopic: string): string {
  return `${job.name}-${shapeHash(job, sourceTopic)}`;
}
