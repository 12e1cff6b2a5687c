import { describe, expect, it } from 'vitest';
import { createFlinkJob } from './flink-job.ts';
import { createJob } from './job-launcher.ts';
import { loadJob, renderParam, resolvePlan } from './job-plan.ts';
import { loadJobsConfig } from './jobs-config.ts';

describe('createJob', () => {
  const config = loadJobsConfig({ SPARK_JOBS_STATE: '/state' });

  it("picks the launcher by the plan's engine, both on the job's one run directory", async () => {
    const job = await loadJob('emoji-swarm');
    const spark = createJob(await resolvePlan(job, config, 'spark'), { config });
    const flink = createJob(await resolvePlan(job, config, 'flink'), { config });
    expect(spark.plan.engine).toBe('spark');
    expect(flink.plan.engine).toBe('flink');
    // One run (and driver lock) per job whichever engine: both write the same sink topic.
    expect(flink.paths.dir).toBe(spark.paths.dir);
    await expect(flink.status()).resolves.toMatchObject({ state: 'not started' });
    expect(() => createFlinkJob(spark.plan, { config })).toThrowError(/planned for spark/);
  });

  it('reads FLINK_* settings once, naming a bad one', () => {
    expect(config.flink).toEqual({ restAddress: undefined, parallelism: 1, checkpointInterval: '5 seconds' });
    expect(
      loadJobsConfig({ FLINK_REST_ADDRESS: 'jm.example:8081', FLINK_PARALLELISM: '4' }).flink,
    ).toMatchObject({ restAddress: 'jm.example:8081', parallelism: 4 });
    expect(() => loadJobsConfig({ FLINK_REST_ADDRESS: 'http://jm:8081/' })).toThrowError(
      /FLINK_REST_ADDRESS/,
    );
  });

  it("renders a typed parameter in each engine's dialect", () => {
    const p = { type: 'interval', value: '2 seconds', stateless: false } as const;
    expect(renderParam(p, 'spark')).toBe('2 seconds');
    expect(renderParam(p, 'flink')).toBe("INTERVAL '2' SECOND");
    expect(renderParam({ ...p, value: '1 minute' }, 'flink')).toBe("INTERVAL '1' MINUTE");
    expect(renderParam({ type: 'int', value: '1000', stateless: true }, 'flink')).toBe('1000');
  });
});
