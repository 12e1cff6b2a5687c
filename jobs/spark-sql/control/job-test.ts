import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { JobError } from './errors.ts';
import { loadJob } from './job-header.ts';
import { sparkSubmitArgs } from './job-runner.ts';
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

/** Outcome of one job's fixture test. */
export interface JobTestResult {
  job: string;
  file: string;
  ok: boolean;
  rows: number;
  diff: RowDiff;
  /** Set when the job could not be tested (no fixtures, bad header …). */
  error?: string;
}

/** Fixture and expectation files beside a job: `<job>.fixtures.jsonl`, `<job>.expected.jsonl`. */
export function sidecars(jobFile: string): { fixtures: string; expected: string } {
  const base = jobFile.replace(/\.sql$/, '');
  return { fixtures: `${base}.fixtures.jsonl`, expected: `${base}.expected.jsonl` };
}

/**
 * Runs every given job's SQL in batch mode over its fixtures (one spark-submit for all, as Spark starts slowly) and
 * diffs each result against the expected rows.
 */
export async function runJobTests(
  jobFiles: string[],
  options: { runtime?: SparkRuntime; onOutput?: (chunk: string) => void } = {},
): Promise<JobTestResult[]> {
  const results: JobTestResult[] = [];
  const runnable: string[] = [];
  for (const file of jobFiles) {
    const name = path.basename(file, '.sql');
    const { fixtures, expected } = sidecars(file);
    const problem = !existsSync(fixtures)
      ? `no fixtures (${path.basename(fixtures)})`
      : !existsSync(expected)
        ? `no expected rows (${path.basename(expected)})`
        : await loadJob(file).then(
            () => undefined,
            (err: Error) => err.message,
          );
    if (problem) {
      results.push({
        job: name,
        file,
        ok: false,
        rows: 0,
        diff: { missing: [], unexpected: [], changed: [] },
        error: problem,
      });
    } else {
      runnable.push(file);
    }
  }
  if (runnable.length === 0) return results;
  const rt = options.runtime ?? (await resolveSparkRuntime());
  const out = await mkdtemp(path.join(os.tmpdir(), 'emostream-job-test-'));
  try {
    const args = [
      ...sparkSubmitArgs(rt, 'local[2]'),
      'batch',
      ...runnable.flatMap((f) => ['--job', f]),
      '--out',
      out,
    ];
    await new Promise<string>((resolve, reject) => {
      const child = spawn(rt.sparkSubmit, args, {
        env: { ...process.env, ...rt.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      const onData = (b: Buffer) => {
        const s = b.toString();
        text = (text + s).slice(-20_000);
        options.onOutput?.(s);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0
          ? resolve(text)
          : reject(new JobError(`spark-submit batch exited ${code}\n${text.slice(-4000)}`)),
      );
    });
    for (const file of runnable) {
      const name = path.basename(file, '.sql');
      const actual = await readRows(path.join(out, `${name}.jsonl`));
      const expected = await readRows(sidecars(file).expected);
      const diff = diffRows(expected, actual);
      results.push({ job: name, file, ok: isEmptyDiff(diff), rows: actual.length, diff });
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return results.sort((a, b) => a.job.localeCompare(b.job));
}
