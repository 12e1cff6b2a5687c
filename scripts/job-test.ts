#!/usr/bin/env tsx
/**
 * job:test [job …] — runs each job's SQL in batch mode over the fixture reactions beside it
 * (`<job>.fixtures.jsonl`, a `repeat` field stands for that many identical reactions) and diffs the rows against
 * `<job>.expected.jsonl`. Prints the rows that differ; exits 1 on any difference. No Kafka needed.
 *
 *   npm run job:test                          # every job in jobs/spark-sql
 *   npm run job:test -- emoji-swarm           # one job
 *   npm run job:test -- some/dir/my-job.sql   # a job file anywhere
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { argv, chalk } from 'zx';
import { JobError } from '../jobs/spark-sql/control/errors.ts';
import { formatDiff, runJobTests } from '../jobs/spark-sql/control/job-test.ts';
import { JOBS_DIR, jobFile } from '../jobs/spark-sql/control/jobs-config.ts';

async function main(): Promise<void> {
  const names = argv._.map(String);
  const files =
    names.length > 0
      ? names.map(jobFile)
      : (await readdir(JOBS_DIR)).filter((f) => f.endsWith('.sql')).map((f) => path.join(JOBS_DIR, f));
  if (files.length === 0) throw new JobError(`no jobs in ${JOBS_DIR}`);
  console.log(
    `testing ${files.map((f) => path.basename(f, '.sql')).join(', ')} on fixtures (Spark batch, local[2]) …`,
  );
  const results = await runJobTests(files, {
    onOutput: argv.verbose ? (s) => process.stderr.write(s) : undefined,
  });
  for (const r of results) {
    if (r.ok) {
      console.log(`${chalk.green('PASS')} ${r.job}: ${r.rows} rows as expected`);
    } else if (r.error) {
      console.log(`${chalk.red('FAIL')} ${r.job}: ${r.error}`);
    } else {
      const { missing, unexpected, changed } = r.diff;
      console.log(
        `${chalk.red('FAIL')} ${r.job}: ${changed.length} changed, ${missing.length} missing, ${unexpected.length} unexpected ` +
          `(- expected, + actual)\n${formatDiff(r.diff)}`,
      );
    }
  }
  if (results.some((r) => !r.ok)) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(chalk.red(err instanceof JobError ? err.message : String((err as Error).stack ?? err)));
  process.exit(1);
});
