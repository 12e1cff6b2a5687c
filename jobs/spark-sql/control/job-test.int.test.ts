import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $ } from 'zx';
import { JOBS_DIR } from './jobs-config.ts';

// job:test end to end (real Spark and Flink in batch mode, no Kafka): one batch run per engine tests the shipped
// jobs and two broken copies of emoji-swarm (which runs on both), so the run must pass the shipped ones on every
// engine they list, fail each copy naming what broke on each engine, and exit 1:
// - wrong-expected: an expectation that is off by one swarm → the differing row, on both engines;
// - bad-query: on Spark a swarm rule that gives 0 below the divisor and no emitted_at column → the data test and
//   its rows, and the column the sink schema misses; on Flink the same wrong swarm rule → the rows and data test.
describe('job:test', () => {
  let dir: string;
  const src = path.join(JOBS_DIR, 'emoji-swarm');
  const copy = async (
    name: string,
    edit: { sql?: (s: string) => string; flinkSql?: (s: string) => string; expected?: (s: string) => string },
  ) => {
    const hit = (f: ((s: string) => string) | undefined, text: string) => {
      const out = f ? f(text) : text;
      if (f) expect(out).not.toBe(text); // the edit must hit something, or the test proves nothing
      return out;
    };
    await writeFile(path.join(dir, `${name}.sql`), hit(edit.sql, await readFile(`${src}.sql`, 'utf8')));
    await writeFile(
      path.join(dir, `${name}.flink.sql`),
      hit(edit.flinkSql, await readFile(`${src}.flink.sql`, 'utf8')),
    );
    await writeFile(
      path.join(dir, `${name}.yml`),
      (await readFile(`${src}.yml`, 'utf8')).replace(/emoji-swarm\.(fixtures|expected)/g, `${name}.$1`),
    );
    await copyFile(`${src}.fixtures.jsonl`, path.join(dir, `${name}.fixtures.jsonl`));
    await writeFile(
      path.join(dir, `${name}.expected.jsonl`),
      hit(edit.expected, await readFile(`${src}.expected.jsonl`, 'utf8')),
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'emostream-job-test-it-'));
    await copy('wrong-expected', {
      expected: (s) => s.replace('"count":3785,"swarm":3', '"count":3785,"swarm":4'),
    });
    await copy('bad-query', {
      sql: (s) =>
        s
          // biome-ignore lint/suspicious/noTemplateCurlyInString: SQL placeholders, not JavaScript templates
          .replace('GREATEST(1, n DIV ${divisor})', 'n DIV ${divisor}')
          .replace(/,\n\s*current_timestamp\(\)\s+AS emitted_at/, ''),
      // biome-ignore lint/suspicious/noTemplateCurlyInString: SQL placeholders, not JavaScript templates
      flinkSql: (s) => s.replace('GREATEST(1, COUNT(*) / ${divisor})', 'COUNT(*) / ${divisor}'),
    });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  /** The report of one job and engine: from its FAIL line to the next PASS/FAIL line. */
  const section = (stdout: string, head: string) => {
    const from = stdout.indexOf(head);
    expect(from).toBeGreaterThanOrEqual(0);
    const rest = stdout.slice(from + head.length);
    const next = rest.search(/\n(PASS|FAIL) /);
    return head + (next < 0 ? rest : rest.slice(0, next));
  };

  it('passes the shipped jobs and names the differing row, the failing data test and the missing column', async () => {
    const root = path.resolve(JOBS_DIR, '../..');
    const out = await $({
      cwd: root,
      nothrow: true,
      quiet: true,
    })`npx tsx scripts/job-test.ts emoji-swarm emoji-trend ${path.join(dir, 'wrong-expected.yml')} ${path.join(dir, 'bad-query.yml')}`;
    // On failure, the run's stderr says why (a runner that could not start, a query the engine refused).
    expect(out.stdout, out.stderr.slice(-3000)).toMatch(/PASS emoji-swarm \(spark\): 10 rows as expected/);
    expect(out.stdout).toMatch(/PASS emoji-swarm \(flink\): 10 rows as expected/);
    expect(out.stdout).toMatch(/PASS emoji-trend \(spark\): 32 rows as expected/);
    expect(out.stdout).toMatch(/PASS emoji-trend \(flink\): 32 rows as expected/);

    for (const engine of ['spark', 'flink']) {
      const wrong = section(out.stdout, `FAIL wrong-expected (${engine})`);
      expect(wrong).toMatch(/^FAIL wrong-expected \(\w+\):\n {2}rows: 1 changed, 0 missing, 0 unexpected/);
      expect(wrong).toContain(
        '- {"match_id":"m1","window_start":"2026-01-01T00:00:04.000Z","window_end":"2026-01-01T00:00:06.000Z","emoji":"👏","count":3785,"swarm":4}',
      );
      expect(wrong).toContain(
        '+ {"match_id":"m1","window_start":"2026-01-01T00:00:04.000Z","window_end":"2026-01-01T00:00:06.000Z","emoji":"👏","count":3785,"swarm":3}',
      );
    }

    // Flink's copy: the same wrong swarm rule, caught by the expected rows and the same data test.
    const badFlink = section(out.stdout, 'FAIL bad-query (flink)');
    expect(badFlink).toMatch(/rows: \d+ changed/);
    expect(badFlink).toMatch(/data test expression\(swarm >= 1\) failed on \d+ row\(s\):/);
    expect(badFlink).toMatch(/"emoji":"🔥","count":2,"swarm":0[,}]/);

    const bad = section(out.stdout, 'FAIL bad-query (spark)');
    expect(bad).toContain('sink schema: column emitted_at of aggregate.avsc is missing from the query');
    // Windows of fewer than 1000 reactions now get swarm 0: the data test lists them.
    expect(bad).toMatch(/data test expression\(swarm >= 1\) failed on \d+ row\(s\):/);
    expect(bad).toContain('{"match_id":"m1","window_start":"2026-01-01T00:00:00.000Z"');
    expect(bad).toMatch(/"emoji":"🔥","count":2,"swarm":0\}/);
    expect(out.exitCode).toBe(1);
  }, 300_000);
});
