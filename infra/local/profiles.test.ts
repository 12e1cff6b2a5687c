import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadJobsList } from '../../jobs/spark-sql/control/job-plan.ts';
import { haproxyConfig } from './haproxy.ts';
import { brokerProperties } from './kafka-broker.ts';
import { clusterNodeProperties, kafkaNodePorts, replicatedTopicSpecs } from './kafka-cluster.ts';
import { defaultPipelinePorts, pipelineSpecs } from './pipeline-services.ts';
import { clusterPipelineSpecs, defaultClusterPorts, profileFrom } from './profiles.ts';
import type { Runtime } from './provisioner.ts';

const tmp = mkdtempSync(path.join(tmpdir(), 'emostream-profiles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const pipelinePorts = defaultPipelinePorts();
const light = pipelineSpecs({
  host: '127.0.0.1',
  kafkaBrokers: '127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096',
  registryUrl: 'http://127.0.0.1:8081',
  ports: pipelinePorts,
  sparkState: path.join(tmp, 'spark-jobs-cluster'),
});
// Only the Spark paths are read; jars from an empty dir.
const runtime = {
  versions: { spark: { pyspark: '4.0.0' } },
  paths: { sparkVenv: path.join(tmp, 'venv'), sparkJars: tmp },
  toolchain: { sparkJdk: { home: '/jdk', java: '/jdk/bin/java' } },
} as unknown as Runtime;
const clusterPorts = defaultClusterPorts(pipelinePorts);
const cluster = clusterPipelineSpecs(light, {
  host: '127.0.0.1',
  clusterPorts,
  runtime,
  runDir: tmp,
  haproxy: '/usr/sbin/haproxy',
});
const byName = (name: string) => {
  const spec = cluster.find((s) => s.name === name);
  if (!spec) throw new Error(`no ${name} in ${cluster.map((s) => s.name).join(', ')}`);
  return spec;
};

describe('profileFrom', () => {
  it('is light by default, takes --profile over EMOSTREAM_PROFILE, and refuses an unknown one', () => {
    expect(profileFrom({}, {})).toBe('light');
    expect(profileFrom({}, { EMOSTREAM_PROFILE: 'cluster' })).toBe('cluster');
    expect(profileFrom({ profile: 'light' }, { EMOSTREAM_PROFILE: 'cluster' })).toBe('light');
    expect(() => profileFrom({ profile: 'big' }, {})).toThrow(/--profile must be one of light, cluster/);
  });
});

describe('clusterPipelineSpecs', () => {
  it('replicates ingest and the main publisher behind HAProxy, on their own ports', () => {
    const names = cluster.map((s) => s.name);
    expect(names.slice(0, 4)).toEqual(['haproxy', 'spark-master', 'spark-worker-1', 'spark-worker-2']);
    expect(names).not.toContain('ingest');
    expect(names).not.toContain('main-publisher');
    expect(byName('ingest-1').env?.INGEST_PORT).toBe('8180');
    expect(byName('ingest-2').env?.INGEST_PORT).toBe('8181');
    expect(byName('ingest-1').env?.INGEST_DEAD_LETTER_DIR).not.toBe(
      byName('ingest-2').env?.INGEST_DEAD_LETTER_DIR,
    );
    expect(byName('main-publisher-1').env?.FANOUT_MAIN_PORT).toBe('8190');
    // Active–active: a consumer group each, so both read every aggregate.
    expect(byName('main-publisher-1').env?.FANOUT_MAIN_GROUP_ID).not.toBe(
      byName('main-publisher-2').env?.FANOUT_MAIN_GROUP_ID,
    );
    const cfg = readFileSync(path.join(tmp, 'haproxy', 'haproxy.cfg'), 'utf8');
    expect(cfg).toContain('bind 127.0.0.1:8080');
    expect(cfg).toContain('server ingest-2 127.0.0.1:8181');
    expect(cfg).toContain('bind 127.0.0.1:8090');
    expect(cfg).toContain('server main-publisher-1 127.0.0.1:8190');
  });

  it('keeps every other service on the fronts, and nodes after HAProxy and both main publishers', () => {
    const node = byName('node-cluster-a-1');
    expect(node.env?.DIRECTORY_URL).toBe('http://127.0.0.1:8090');
    expect(node.after).toEqual([
      'haproxy',
      'main-publisher-1',
      'main-publisher-2',
      'cluster-publisher-cluster-a',
    ]);
    expect(byName('web').env?.INGEST_URL).toBe('http://127.0.0.1:8080');
    // A valid start order: each dependency listed before its dependant.
    const seen = new Set<string>();
    for (const s of cluster) {
      for (const d of s.after ?? []) expect(seen.has(d), `${s.name} after ${d}`).toBe(true);
      seen.add(s.name);
    }
  });

  it('submits every Spark job, in one driver, to the standalone master with executors sized for both workers', () => {
    const jobs = cluster.filter((s) => s.name.startsWith('spark-job'));
    expect(jobs.map((s) => [s.name, s.args.at(-1)])).toEqual([['spark-job', loadJobsList().join(',')]]);
    for (const job of jobs) {
      expect(job.env?.SPARK_MASTER).toBe('spark://127.0.0.1:7077');
      expect(job.after).toEqual(expect.arrayContaining(['spark-master', 'spark-worker-1', 'spark-worker-2']));
    }
    const defaults = readFileSync(
      path.join(String(jobs[0]?.env?.SPARK_CONF_DIR), 'spark-defaults.conf'),
      'utf8',
    );
    expect(defaults).toContain('spark.executor.cores 1');
    expect(defaults).toContain('spark.cores.max 2');
    expect(byName('spark-worker-2').args).toEqual(
      expect.arrayContaining(['--cores', '2', '--host', '127.0.0.1', 'spark://127.0.0.1:7077']),
    );
  });
});

describe('haproxyConfig', () => {
  it('binds loopback only, checks /ready and retries only requests that never reached a replica', () => {
    const cfg = haproxyConfig({
      host: '127.0.0.1',
      statsPort: 9404,
      services: [{ name: 'ingest', front: 9080, replicas: [{ name: 'a', port: 9180 }] }],
    });
    for (const bind of cfg.match(/bind \S+/g) ?? []) expect(bind).toMatch(/^bind 127\.0\.0\.1:/);
    expect(cfg).toContain('option httpchk GET /ready');
    expect(cfg).toContain('retry-on conn-failure');
    expect(cfg).toContain('stats uri /stats');
  });
});

describe('Kafka cluster node config', () => {
  const nodes = kafkaNodePorts(9092, 3);
  it('makes each node a voter of one static quorum with replicated internal topics', () => {
    const props = brokerProperties('/data/node-2', {
      host: '127.0.0.1',
      port: nodes[1]?.port ?? 0,
      controllerPort: nodes[1]?.controllerPort ?? 0,
      properties: clusterNodeProperties({ host: '127.0.0.1', nodes }, 2),
    });
    expect(props['node.id']).toBe('2');
    expect(props['controller.quorum.voters']).toBe('1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097');
    expect(props['controller.quorum.bootstrap.servers']).toBeUndefined();
    expect(props.listeners).toBe('PLAINTEXT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095');
    expect(props['offsets.topic.replication.factor']).toBe('3');
    expect(props['min.insync.replicas']).toBe('2');
  });

  it('creates the stack topics with the replication factor and min ISR asked', () => {
    expect(replicatedTopicSpecs({ t: 12 }, { factor: 3, minInsync: 2 }, { 'retention.ms': '1' })).toEqual([
      {
        topic: 't',
        partitions: 12,
        replicationFactor: 3,
        configs: { 'retention.ms': '1', 'min.insync.replicas': '2' },
      },
    ]);
  });
});
