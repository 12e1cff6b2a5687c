import { describe, expect, it } from 'vitest';
import { loadJobsList } from '../../jobs/spark-sql/control/job-plan.ts';
import { defaultPipelinePorts, pipelineSpecs } from './pipeline-services.ts';

const options = {
  host: '127.0.0.1',
  kafkaBrokers: '127.0.0.1:9092',
  registryUrl: 'http://127.0.0.1:8081',
  ports: defaultPipelinePorts(),
  sparkState: '/tmp/spark-state',
};

describe('pipelineSpecs: Spark jobs', () => {
  it('runs every job of the jobs list through the job launcher, one service each', () => {
    const spark = pipelineSpecs(options).filter((s) => s.name.startsWith('spark-job'));
    const jobs = loadJobsList();
    expect(jobs.length).toBeGreaterThan(1);
    expect(spark.map((s) => s.args.at(-1))).toEqual(jobs);
    for (const s of spark) expect(s.args.at(-2)).toMatch(/jobs\/spark-sql\/control\/main\.ts$/);
    // The fan-out's job keeps its service name.
    expect(spark.map((s) => s.name)).toContain('spark-job');
  });

  it('runs only the jobs asked for', () => {
    const spark = pipelineSpecs({ ...options, jobs: ['emoji-swarm'] }).filter((s) =>
      s.name.startsWith('spark-job'),
    );
    expect(spark.map((s) => s.name)).toEqual(['spark-job']);
  });
});

describe('pipelineSpecs: web viewer and dashboard', () => {
  it('serves the pages, lets them call ingest and the directory, and scrapes every service', () => {
    const specs = pipelineSpecs(options);
    const web = specs.find((s) => s.name === 'web');
    expect(web?.addresses).toEqual({
      viewer: 'http://127.0.0.1:8088/viewer',
      dashboard: 'http://127.0.0.1:8088/dashboard',
    });
    for (const name of ['ingest', 'main-publisher']) {
      expect(specs.find((s) => s.name === name)?.env?.CORS_ORIGINS).toBe('http://127.0.0.1:8088');
    }
    const targets = (web?.env?.WEB_METRICS_TARGETS ?? '').split(',').map((t) => t.split('=')[0]);
    const services = specs
      .filter((s) => s.name !== 'web' && !s.name.startsWith('spark-job'))
      .map((s) => s.name);
    expect(targets.map((t) => t?.split(':')[1]).sort()).toEqual(services.sort());
  });
});
