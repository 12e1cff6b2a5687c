import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkpointName,
  compileDataTests,
  intervalMs,
  loadJob,
  loadJobsList,
  parseJob,
  resolvePlan,
  shapeHash,
} from './job-plan.ts';
import { JOBS_DIR, loadJobsConfig } from './jobs-config.ts';

const ymlFile = `${JOBS_DIR}emoji-swarm.yml`;
const yml = readFileSync(ymlFile, 'utf8');
const sql = readFileSync(`${JOBS_DIR}emoji-swarm.sql`, 'utf8');
const hit = (text: string, from: RegExp | string, to: string) => {
  const out = text.replace(from, to);
  expect(out).not.toBe(text); // the edit must hit something, or the test proves nothing
  return out;
};
const editYml = (from: RegExp | string, to: string) => parseJob(hit(yml, from, to), sql, ymlFile);
const editSql = (from: RegExp | string, to: string) => parseJob(yml, hit(sql, from, to), ymlFile);

describe('intervalMs', () => {
  it('reads every unit the job files accept, singular or plural, and refuses anything else', () => {
    expect(intervalMs('500 milliseconds')).toBe(500);
    expect(intervalMs('1 second')).toBe(1_000);
    expect(intervalMs('2 seconds')).toBe(2_000);
    expect(intervalMs('10 minutes')).toBe(600_000);
    expect(intervalMs('1 hour')).toBe(3_600_000);
    expect(intervalMs('1 day')).toBe(86_400_000);
    expect(() => intervalMs('2s')).toThrow(/not an interval/);
    expect(() => intervalMs('0.5 seconds')).toThrow(/not an interval/);
  });
});

describe('job files', () => {
  it('parses the shipped job: typed params, substituted query, stateless marks', async () => {
    const job = await loadJob('emoji-swarm');
    expect(job.name).toBe('emoji-swarm');
    expect(job.params.window).toEqual({ type: 'interval', value: '2 seconds', stateless: false });
    expect(job.params.divisor).toEqual({ type: 'int', value: '1000', stateless: true });
    expect(job.spec.sink.output_mode).toBe('update');
    expect(job.spec.source.dedupe).toEqual(['event_id']);
    expect(job.sql).toContain("window(ingest_ts, '2 seconds')");
    expect(job.sql).toContain('GREATEST(1, n DIV 1000)');
    expect(job.sql).toMatch(/FROM reactions\b/);
    expect(job.sql).not.toContain('${');
  });

  it('names every problem of a bad yml in one error', () => {
    const bad = hit(
      hit(
        hit(yml, 'value: 2 seconds', 'value: two seconds'),
        'type: int, value: 1000',
        'type: float, value: 1.5',
      ),
      '  key: match_id\n',
      '',
    );
    const message = (() => {
      try {
        parseJob(bad, sql, 'x.yml');
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    })();
    expect(message).toMatch(/^x\.yml: /);
    expect(message).toContain('params.window.value: an interval such as "2 seconds"');
    expect(message).toContain('params.divisor.type');
    expect(message).toContain('sink.key');
  });

  it('rejects a query placeholder that is not declared', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: SQL placeholders, not JavaScript templates
    expect(() => editSql('${divisor}', '${nope}')).toThrowError(/\$\{nope\} is not a declared param/);
  });

  it('drops the dedupe key only when SPARK_UNSAFE_DROP_DEDUPE=1 says so, with a checkpoint of its own', async () => {
    const job = await loadJob('emoji-swarm');
    const normal = await resolvePlan(job, loadJobsConfig({ SPARK_JOBS_STATE: '/state' }));
    const unsafe = await resolvePlan(
      job,
      loadJobsConfig({ SPARK_JOBS_STATE: '/state', SPARK_UNSAFE_DROP_DEDUPE: '1' }),
    );
    expect(normal.source.dedupe).toEqual(['event_id']);
    expect(unsafe.source.dedupe).toEqual([]);
    expect(unsafe.checkpoint).not.toBe(normal.checkpoint);
    expect(() => loadJobsConfig({ SPARK_UNSAFE_DROP_DEDUPE: 'yes' })).toThrowError(
      /SPARK_UNSAFE_DROP_DEDUPE/,
    );
  });

  it('resolves a plan: topics from logical names, schema texts, key, trigger, checkpoint', async () => {
    const config = loadJobsConfig({ SPARK_JOBS_STATE: '/state', AGGREGATES_TOPIC: 'agg.x' });
    const plan = await resolvePlan(await loadJob('emoji-swarm'), config);
    expect(plan.source).toMatchObject({
      topic: 'emoji.reactions.v1',
      view: 'reactions',
      eventTime: 'ingest_ts',
    });
    expect(plan.source.watermark).toBe('10 seconds');
    expect(JSON.parse(plan.source.schema).name).toBe('Reaction');
    expect(plan.sink).toMatchObject({ topic: 'agg.x', key: 'match_id', outputMode: 'update' });
    expect(JSON.parse(plan.sink.schema).name).toBe('EmojiAggregate');
    expect(plan.trigger).toBe('1 second');
    expect(plan.checkpoint).toMatch(/^\/state\/checkpoints\/emoji-swarm-[0-9a-f]{12}$/);
    expect(plan.tests.fixtures).toBe(`${JOBS_DIR}emoji-swarm.fixtures.jsonl`);
  });

  it('resolves one plan per engine of the job: its query, its checkpoint, the same contract', async () => {
    const config = loadJobsConfig({ SPARK_JOBS_STATE: '/state' });
    const job = await loadJob('emoji-swarm');
    expect(job.engines).toEqual(['spark', 'flink']);
    const spark = await resolvePlan(job, config);
    const flink = await resolvePlan(job, config, 'flink');
    expect(spark.engine).toBe('spark');
    expect(flink.engine).toBe('flink');
    expect(spark.sql).toContain('DIV 1000');
    expect(flink.sql).toContain("TUMBLE(ingest_ts, INTERVAL '2' SECOND)");
    expect(flink.sql).not.toContain('${');
    expect(flink.checkpoint).toMatch(/^\/state\/checkpoints\/emoji-swarm-flink-[0-9a-f]{12}$/);
    expect(flink.shapeHash).not.toBe(spark.shapeHash);
    // One contract: everything but the query, the engine and the checkpoint is the same.
    const contract = (p: typeof spark) => ({ ...p, sql: '', engine: '', checkpoint: '', shapeHash: '' });
    expect(contract(flink)).toEqual(contract(spark));
    expect(flink.sink.upsertKey).toEqual(['match_id', 'window_start', 'emoji']);
  });

  it("defaults to Spark, refuses an engine the job does not list, and needs each listed engine's query", async () => {
    const sparkOnly = parseJob(hit(yml, 'engines: [spark, flink]', ''), sql, ymlFile);
    expect(sparkOnly.engines).toEqual(['spark']);
    const config = loadJobsConfig({ SPARK_JOBS_STATE: '/state' });
    await expect(resolvePlan(sparkOnly, config, 'flink')).rejects.toThrowError(
      /emoji-swarm does not run on flink \(its engines: spark\)/,
    );
    expect(() => parseJob(yml, { spark: sql }, ymlFile)).toThrowError(
      /engine flink needs its query emoji-swarm\.flink\.sql/,
    );
    expect(() => editYml('engines: [spark, flink]', 'engines: [spark, storm]')).toThrowError(/engines\.1/);
    expect(() => editYml('engines: [spark, flink]', 'engines: [flink, flink]')).toThrowError(
      /an engine is listed once/,
    );
    // Flink upserts by key: an update-mode job on it must name the row's key.
    expect(() => editYml(/\n {2}upsert_key: .*\n/, '\n')).toThrowError(/sink\.upsert_key: a job on flink/);
  });

  it('keeps the Spark checkpoint name of a job that gained a Flink query', async () => {
    const config = loadJobsConfig({ SPARK_JOBS_STATE: '/state' });
    const both = await resolvePlan(await loadJob('emoji-swarm'), config);
    const sparkOnly = await resolvePlan(
      parseJob(hit(yml, 'engines: [spark, flink]', ''), sql, ymlFile),
      config,
    );
    expect(both.checkpoint).toBe(sparkOnly.checkpoint);
  });

  it('compiles data tests to queries that select the failing rows', () => {
    const tests = compileDataTests(parseJob(yml, sql, ymlFile));
    expect(tests.map((t) => t.name)).toContain('unique(match_id, window_start, emoji)');
    expect(tests.find((t) => t.name === 'expression(`count` > 0)')?.sql).toBe(
      'SELECT * FROM `result` WHERE NOT coalesce(`count` > 0, false)',
    );
    // Params are substituted in expressions as in the query.
    expect(tests.map((t) => t.sql).join('\n')).toContain('FLOOR(`count` / 1000)');
  });

  it("writes an interval param in a data test as a whole literal in each engine's dialect", async () => {
    const trend = await loadJob('emoji-trend');
    const sqlOf = (engine: 'spark' | 'flink') =>
      compileDataTests(trend, engine).find((t) => t.name.includes('window_start +'))?.sql;
    expect(sqlOf('spark')).toContain('window_end = window_start + INTERVAL 10 seconds');
    expect(sqlOf('flink')).toContain("window_end = window_start + INTERVAL '10' SECOND");
  });

  it('lists the jobs npm start runs, each with its files', async () => {
    const jobs = loadJobsList();
    expect(jobs).toContain('emoji-swarm');
    for (const name of jobs) await expect(loadJob(name)).resolves.toMatchObject({ name });
  });
});

describe('stateful shape → checkpoint name', () => {
  const base = parseJob(yml, sql, ymlFile);
  const hash = shapeHash(base, 'emoji.reactions.v1');

  it('is stable and named after the job', () => {
    expect(shapeHash(parseJob(yml, sql, ymlFile), 'emoji.reactions.v1')).toBe(hash);
    expect(checkpointName(base, 'emoji.reactions.v1')).toBe(`emoji-swarm-${hash}`);
  });

  it('ignores stateless parameters, the trigger, the description, comments and layout', () => {
    expect(shapeHash(editYml('value: 1000', 'value: 500'), 'emoji.reactions.v1')).toBe(hash);
    expect(shapeHash(editYml('trigger: 1 second', 'trigger: 5 seconds'), 'emoji.reactions.v1')).toBe(hash);
    expect(
      shapeHash(editYml('description: |\n', 'description: |\n  A new line.\n'), 'emoji.reactions.v1'),
    ).toBe(hash);
    expect(shapeHash(editSql(/^-- .*$/m, '-- Another comment.'), 'emoji.reactions.v1')).toBe(hash);
    expect(shapeHash(editSql(/\n {2}emoji,\n/, '\n      emoji,\n\n'), 'emoji.reactions.v1')).toBe(hash);
  });

  it('changes with the window, watermark, grouping, output mode, dedupe key or source topic', () => {
    const hashes = [
      shapeHash(editYml('value: 2 seconds', 'value: 5 seconds'), 'emoji.reactions.v1'),
      shapeHash(editYml('watermark: 10 seconds', 'watermark: 30 seconds'), 'emoji.reactions.v1'),
      shapeHash(
        editSql('GROUP BY match_id, emoji,', 'GROUP BY match_id, emoji, user_id,'),
        'emoji.reactions.v1',
      ),
      shapeHash(editYml('output_mode: update', 'output_mode: complete'), 'emoji.reactions.v1'),
      shapeHash(editYml('dedupe: [event_id]', 'dedupe: []'), 'emoji.reactions.v1'),
      shapeHash(base, 'other.reactions'),
    ];
    expect(new Set([hash, ...hashes]).size).toBe(hashes.length + 1);
  });
});
