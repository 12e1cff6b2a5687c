import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkpointName, loadJob, parseJob, shapeHash } from './job-header.ts';
import { JOBS_DIR, RUNNER } from './jobs-config.ts';

const shipped = `${JOBS_DIR}emoji-swarm.sql`;
const text = readFileSync(shipped, 'utf8');
const edit = (from: RegExp, to: string) => {
  const out = text.replace(from, to);
  expect(out).not.toBe(text); // the edit must hit something, or the test proves nothing
  return parseJob(out, shipped);
};

describe('job header', () => {
  it('parses the shipped job: typed params, substituted query, stateless marks', async () => {
    const job = await loadJob(shipped);
    expect(job.name).toBe('emoji-swarm');
    expect(job.params.window).toEqual({ type: 'interval', value: '2 seconds', stateful: true });
    expect(job.params.trigger).toEqual({ type: 'interval', value: '2 seconds', stateful: false });
    expect(job.params.divisor).toEqual({ type: 'int', value: '1000', stateful: false });
    expect(job.params.output_mode?.value).toBe('update');
    expect(job.sql).toContain("window(ingest_ts, '2 seconds')");
    expect(job.sql).toContain('GREATEST(1, n DIV 1000)');
    expect(job.sql).toMatch(/FROM reactions\b/);
    expect(job.sql.split('\n').filter((l) => !l.trimStart().startsWith('--'))).not.toContainEqual(
      expect.stringContaining('${'),
    );
  });

  it('names every problem of a bad header in one error', () => {
    const bad = text
      .replace('interval = 2 seconds\n', 'interval = two seconds\n')
      .replace(/^-- @param divisor.*$/m, '-- @param divisor float = 1.5')
      .replace(/^-- @param sink_key.*$/m, '');
    expect(() => parseJob(`${bad}\nSELECT \${nope}`, 'x.sql')).toThrowError(
      /window: "two seconds" is not a valid interval.*divisor: unknown type float.*lacks @param window, sink_key.*\$\{nope\} is not a declared @param/,
    );
  });

  it('agrees with the Python runner on every parameter', () => {
    const out = execFileSync('python3', [RUNNER, 'header', '--job', shipped], { encoding: 'utf8' });
    const fromPython = JSON.parse(out) as { name: string; params: unknown };
    expect(fromPython).toEqual({ name: 'emoji-swarm', params: parseJob(text, shipped).params });
  });
});

describe('stateful shape → checkpoint name', () => {
  const base = parseJob(text, shipped);
  const hash = shapeHash(base, 'emoji.reactions.v1');

  it('is stable and named after the job', () => {
    expect(shapeHash(parseJob(text, shipped), 'emoji.reactions.v1')).toBe(hash);
    expect(checkpointName(base, 'emoji.reactions.v1')).toBe(`emoji-swarm-${hash}`);
  });

  it('ignores stateless parameters, comments and layout', () => {
    expect(shapeHash(edit(/int {6}= 1000/, 'int = 500'), 'emoji.reactions.v1')).toBe(hash);
    expect(
      shapeHash(edit(/= 2 seconds {3}\[stateless\]/, '= 5 seconds [stateless]'), 'emoji.reactions.v1'),
    ).toBe(hash);
    expect(shapeHash(edit(/-- Swarm:/, '-- A new comment.\n-- Swarm:'), 'emoji.reactions.v1')).toBe(hash);
    expect(shapeHash(edit(/\n {2}emoji,\n/, '\n      emoji,\n\n'), 'emoji.reactions.v1')).toBe(hash);
  });

  it('changes with the window, the watermark, the grouping, the output mode or the source topic', () => {
    const hashes = [
      shapeHash(edit(/interval = 2 seconds\n/, 'interval = 5 seconds\n'), 'emoji.reactions.v1'),
      shapeHash(edit(/= 10 seconds/, '= 30 seconds'), 'emoji.reactions.v1'),
      shapeHash(
        edit(/GROUP BY match_id, emoji,/, 'GROUP BY match_id, emoji, user_id,'),
        'emoji.reactions.v1',
      ),
      shapeHash(edit(/mode {5}= update/, 'mode = complete'), 'emoji.reactions.v1'),
      shapeHash(base, 'other.reactions'),
    ];
    expect(new Set([hash, ...hashes]).size).toBe(hashes.length + 1);
  });
});
