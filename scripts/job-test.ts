#!/usr/bin/env tsx
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { argv, chalk } from 'zx';
/**
 * job:test [job …] — runs each job's SQL in batch mode over the fixture reactions its yml names (a `repeat` field
 * stands for that many identical reactions), diffs the rows against its expected rows, checks the query's columns
 * against the sink schema and runs the yml's data tests. Prints what differs and which test failed on which rows;
 * exits 1 on any failure. No Kafka needed. A job listing several engines (`engines: [spark, flink]`) runs on each,
 * and each must give the same expected rows and pass the same data tests.
 *
 *   npm run job:test                          # every job in jobs/spark-sql
 *   npm run job:test -- emoji-swarm           # one job
 *   npm run job:test -- some/dir/my-job.yml   # a job file anywhere
 *   npm run job:test -- --engine flink        # only the Flink queries
 */
import { ConfigError } from '../common/env.ts';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { ENGINES, type Engine } from '../jobs/spark-sql/control/job-plan.ts';
import { formatDiff, type JobTestResult, runJobTests } from '../jobs/spark-sql/control/job-test.ts';
import { JOBS_DIR } from '../jobs/spark-sql/control/jobs-config.ts';

function report(r: JobTestResult): string {
  const job = `${r.job} (${r.engine})`;
  if (r.ok) return `${chalk.green('PASS')} ${job}: ${r.rows} rows as expected, columns match the sink schema`;
  if (r.error) return `${chalk.red('FAIL')} ${job}: ${r.error}`;
  const lines = [`${chalk.red('FAIL')} ${job}:`];
  const { missing, unexpected, changed } = r.diff;
  if (missing.length + unexpected.length + changed.length > 0) {
    lines.push(
      `  rows: ${changed.length} changed, ${missing.length} missing, ${unexpected.length} unexpected (- expected, + actual)`,
      formatDiff(r.diff),
    );
  }
  for (const p of r.columnProblems) lines.push(`  sink schema: ${p}`);
  for (const t of r.dataTests) {
    lines.push(`  data test ${t.name} failed on ${t.rows.length} row(s):`);
    for (const row of t.rows) lines.push(`    ${JSON.stringify(row)}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const names = argv._.map(String);
  const jobs =
    names.length > 0
      ? names
      : (await readdir(JOBS_DIR))
          .filter((f) => f.endsWith('.yml') && f !== 'jobs.yml')
          .map((f) => path.join(JOBS_DIR, f));
  if (jobs.length === 0) throw new JobError(`no jobs in ${JOBS_DIR}`);
  const engines = argv.engine ? String(argv.engine).split(',') : undefined;
  for (const e of engines ?? []) {
    if (!(ENGINES as readonly string[]).includes(e))
      throw new JobError(`--engine ${e}: not an engine (${ENGINES.join(', ')})`);
  }
  console.log(
    `testing ${jobs.map((f) => path.basename(f).replace(/\.(yml|sql)$/, '')).join(', ')} on fixtures, on ` +
      `${engines ? engines.join(' and ') : "each job's engines"} (batch mode, local) …`,
  );
  const results = await runJobTests(jobs, {
    engines: engines as Engine[] | undefined,
    onOutput: argv.verbose ? (s) => process.stderr.write(s) : undefined,
  });
  for (const r of results) console.log(report(r));
  if (results.some((r) => !r.ok)) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(
    chalk.red(
      err instanceof JobError || err instanceof ConfigError
        ? err.message
        : String((err as Error).stack ?? err),
    ),
  );
  process.exit(1);
});
