import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadJobsList } from '../../jobs/spark-sql/control/job-plan.ts';
import { JOBS_DIR } from '../../jobs/spark-sql/control/jobs-config.ts';
import { kafkaUser, type LocalSecurity, PRINCIPALS } from './kafka-security.ts';
import { defaultPipelinePorts, pipelineSpecs } from './pipeline-services.ts';

const options = {
  host: '127.0.0.1',
  kafkaBrokers: '127.0.0.1:9092',
  registryUrl: 'http://127.0.0.1:8081',
  ports: defaultPipelinePorts(),
  sparkState: '/tmp/spark-state',
};

describe('pipelineSpecs: Spark jobs', () => {
  it('runs every Spark job of the jobs list in one driver: one service, the jobs as its argument', () => {
    const spark = pipelineSpecs(options).filter((s) => s.name.startsWith('spark-job'));
    const jobs = loadJobsList();
    expect(jobs.length).toBeGreaterThan(1);
    expect(spark.map((s) => s.args.at(-1))).toEqual([jobs.join(',')]);
    // The launcher as its bundle (service-build.ts), not through tsx.
    for (const s of spark)
      expect(s.args.at(-2)).toMatch(/dist\/services\/jobs\/spark-sql\/control\/main\.js$/);
    // The fan-out's job keeps its service name.
    expect(spark.map((s) => s.name)).toContain('spark-job');
  });

  it('runs only the jobs asked for', () => {
    const spark = pipelineSpecs({ ...options, jobs: ['emoji-swarm'] }).filter((s) =>
      s.name.startsWith('spark-job'),
    );
    expect(spark.map((s) => s.name)).toEqual(['spark-job']);
  });

  it('passes the engine asked for to each job, and names a job that lacks it before anything starts', () => {
    const [job] = pipelineSpecs({ ...options, jobs: ['emoji-swarm'], engine: 'flink' }).filter((s) =>
      s.name.startsWith('spark-job'),
    );
    expect(job?.args.slice(-2)).toEqual(['emoji-swarm', 'flink']);
    // Without --engine, the job's default engine (no argument).
    expect(pipelineSpecs({ ...options, jobs: ['emoji-swarm'] })[1]?.args.at(-1)).toBe('emoji-swarm');
    // Every shipped job runs on flink: both get the engine.
    const jobs = pipelineSpecs({ ...options, engine: 'flink' }).filter((s) => s.name.startsWith('spark-job'));
    expect(jobs.map((s) => s.args.slice(-2))).toEqual([
      ['emoji-swarm', 'flink'],
      ['emoji-trend', 'flink'],
    ]);
    const sparkOnly = path.join(mkdtempSync(path.join(tmpdir(), 'spark-only-')), 'spark-only.yml');
    writeFileSync(
      sparkOnly,
      readFileSync(path.join(JOBS_DIR, 'emoji-trend.yml'), 'utf8').replace(
        'engines: [spark, flink]',
        'engines: [spark]',
      ),
    );
    expect(() => pipelineSpecs({ ...options, engine: 'flink', jobs: ['emoji-swarm', sparkOnly] })).toThrow(
      /spark-only\.yml \(its engines: spark\) does not run on flink\. Run only the jobs that do \(--jobs emoji-swarm\)/,
    );
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

describe('pipelineSpecs: a secured stack', () => {
  // Real files: the Spark job's config (read when the specs are built) reads its password file.
  const dir = mkdtempSync(path.join(tmpdir(), 'pipeline-security-'));
  const secretFile = (name: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, `pw-${name}\n`);
    return f;
  };
  const caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const security: LocalSecurity = {
    dir,
    caFile,
    keystoreFile: path.join(dir, 'broker.p12'),
    keystorePassword: 'k',
    users: Object.fromEntries(
      PRINCIPALS.map((p) => [
        p,
        { username: kafkaUser(p), password: `pw-${p}`, passwordFile: secretFile(kafkaUser(p)) },
      ]),
    ) as LocalSecurity['users'],
    registry: { username: 'emostream', password: 'r', passwordFile: secretFile('emostream') },
  };

  it('logs each service in to Kafka as its own user, over TLS, with its password as a file', () => {
    const specs = pipelineSpecs({ ...options, security, jobs: ['emoji-swarm'] });
    const userOf = (name: string) => specs.find((s) => s.name === name)?.env?.KAFKA_SASL_USERNAME;
    expect(userOf('ingest')).toBe('emostream-ingest');
    expect(userOf('main-publisher')).toBe('emostream-fanout');
    expect(userOf('cluster-publisher-cluster-a')).toBe('emostream-fanout');
    expect(userOf('spark-job')).toBe('emostream-spark');
    const ingest = specs.find((s) => s.name === 'ingest')?.env ?? {};
    expect(ingest).toMatchObject({
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_PASSWORD_FILE: security.users.ingest.passwordFile,
      KAFKA_SSL_CA_FILE: caFile,
      SCHEMA_REGISTRY_USERNAME: 'emostream',
      SCHEMA_REGISTRY_PASSWORD_FILE: security.registry.passwordFile,
    });
    expect(ingest).not.toHaveProperty('KAFKA_SASL_PASSWORD');
    // No Kafka, no credentials.
    expect(specs.find((s) => s.name === 'web')?.env?.KAFKA_SASL_USERNAME).toBe(
      process.env.KAFKA_SASL_USERNAME,
    );
  });

  it('passes no credentials without a secured stack', () => {
    const ingest = pipelineSpecs({ ...options, jobs: [] }).find((s) => s.name === 'ingest')?.env ?? {};
    expect(ingest.KAFKA_SASL_USERNAME).toBe(process.env.KAFKA_SASL_USERNAME);
  });
});
