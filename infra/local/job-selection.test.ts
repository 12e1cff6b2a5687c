import { describe, expect, it } from 'vitest';
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

  it('names a job that lacks the engine, an unknown engine and an unknown job', () => {
    expect(() => jobSelectionFrom({ engine: 'flink' }, {})).toThrow(RuntimeError);
    expect(() => jobSelectionFrom({ engine: 'flink' }, {})).toThrow(
      /emoji-trend \(its engines: spark\) does not run on flink.*--jobs emoji-swarm/,
    );
    expect(() => jobSelectionFrom({ engine: 'flink', jobs: 'emoji-trend' }, {})).toThrow(
      /does not run on flink\. Add a <job>\.flink\.sql/,
    );
    expect(() => jobSelectionFrom({ engine: 'storm' }, {})).toThrow(/--engine must be one of spark, flink/);
    expect(() => jobSelectionFrom({ jobs: 'emoji-swarm,nope' }, {})).toThrow(/--jobs must name jobs/);
  });
});
