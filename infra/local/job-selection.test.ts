import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { JOBS_DIR } from '../../jobs/spark-sql/control/jobs-config.ts';
import { RuntimeError } from './errors.ts';
import { jobSelectionFrom } from './foreground.ts';

describe('jobSelectionFrom (--engine, --jobs of npm start and chaos)', () => {
  it('defaults to every job on its own engine', () => {
    expect(jobSelectionFrom({}, {})).toEqual({});
  });

  it('takes the engine and the jobs from flags over the environment', () => {
    expect(jobSelectionFrom({ engine: 'flink', jobs: 'emoji-swarm' }, { EMOSTREAM_ENGINE: 'spark' })).toEqual(
      {
        engine: 'flink',
        jobs: ['emoji-swarm'],
      },
    );
    expect(jobSelectionFrom({}, { EMOSTREAM_ENGINE: 'spark', EMOSTREAM_JOBS: 'emoji-trend' })).toEqual({
      engine: 'spark',
      jobs: ['emoji-trend'],
    });
  });

  it('runs every shipped job on flink', () => {
    expect(jobSelectionFrom({ engine: 'flink' }, {})).toEqual({ engine: 'flink' });
  });

  it('names a job that lacks the engine, an unknown engine and an unknown job', () => {
    // A job whose yml lists Spark alone (the shipped ones all run on both).
    const sparkOnly = path.join(os.tmpdir(), `spark-only-${process.pid}.yml`);
    const yml = readFileSync(path.join(JOBS_DIR, 'emoji-trend.yml'), 'utf8');
    expect(yml).toContain('engines: [spark, flink]');
    writeFileSync(sparkOnly, yml.replace('engines: [spark, flink]', 'engines: [spark]'));
    const withIt = [sparkOnly, 'emoji-swarm'];
    expect(() => jobSelectionFrom({ engine: 'flink' }, {}, withIt)).toThrow(RuntimeError);
    expect(() => jobSelectionFrom({ engine: 'flink' }, {}, withIt)).toThrow(
      /spark-only-\d+\.yml \(its engines: spark\) does not run on flink.*--jobs emoji-swarm/,
    );
    expect(() => jobSelectionFrom({ engine: 'flink' }, {}, [sparkOnly])).toThrow(
      /does not run on flink\. Add a <job>\.flink\.sql/,
    );
    expect(() => jobSelectionFrom({ engine: 'storm' }, {})).toThrow(/--engine must be one of spark, flink/);
    expect(() => jobSelectionFrom({ jobs: 'emoji-swarm,nope' }, {})).toThrow(/--jobs must name jobs/);
  });
});
