import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { $ } from 'zx';
import { JOBS_DIR } from './jobs-config.ts';

// job:test end to end (real Spark in batch mode, no Kafka): one spark-submit tests the shipped job and a copy whose
// expectation is wrong, so the run must pass the first, fail the second with the differing rows, and exit 1.
describe('job:test', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'emostream-job-test-it-'));
    const src = path.join(JOBS_DIR, 'emoji-swarm');
    await copyFile(`${src}.sql`, path.join(dir, 'broken-swarm.sql'));
    await copyFile(`${src}.fixtures.jsonl`, path.join(dir, 'broken-swarm.fixtures.jsonl'));
    const expected = await readFile(`${src}.expected.jsonl`, 'utf8');
    const broken = expected.replace('"count":3785,"swarm":3', '"count":3785,"swarm":4');
    expect(broken).not.toBe(expected);
    await writeFile(path.join(dir, 'broken-swarm.expected.jsonl'), broken);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('passes the shipped fixtures and prints the differing row of a broken expectation', async () => {
    const root = path.resolve(JOBS_DIR, '../..');
    const out = await $({
      cwd: root,
      nothrow: true,
      quiet: true,
    })`npx tsx scripts/job-test.ts emoji-swarm ${path.join(dir, 'broken-swarm.sql')}`;
    expect(out.stdout).toMatch(/PASS emoji-swarm: 9 rows as expected/);
    expect(out.stdout).toMatch(/FAIL broken-swarm: 1 changed, 0 missing, 0 unexpected/);
    expect(out.stdout).toContain(
      '- {"match_id":"m1","window_start":"2026-01-01T00:00:04.000Z","window_end":"2026-01-01T00:00:06.000Z","emoji":"👏","count":3785,"swarm":4}',
    );
    expect(out.stdout).toContain(
      '+ {"match_id":"m1","window_start":"2026-01-01T00:00:04.000Z","window_end":"2026-01-01T00:00:06.000Z","emoji":"👏","count":3785,"swarm":3}',
    );
    expect(out.exitCode).toBe(1);
  }, 240_000);
});
