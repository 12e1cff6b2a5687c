/**
 * The compose file for users with Docker, checked where its public images cannot be pulled (as on CI): it parses,
 * names the expected services, pins the images to versions.json, wires start order to health checks that exist,
 * publishes on loopback only, and starts entries that exist in this repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import versions from '../versions.json' with { type: 'json' };

const root = fileURLToPath(new URL('../', import.meta.url));
const composeText = readFileSync(`${root}infra/docker-compose.yml`, 'utf8');
const dockerfile = readFileSync(`${root}infra/Dockerfile`, 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
}

function loadCompose(): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  // Compose reads YAML 1.1 merge keys (`<<: *anchor`); so must the check.
  const doc = parseDocument(composeText, { merge: true, uniqueKeys: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  expect(doc.warnings.map((w) => w.message)).toEqual([]);
  return doc.toJS({ maxAliasCount: 100 }) as { services: Record<string, Service> };
}

const EXPECTED_SERVICES = [
  'kafka',
  'kafka-topics',
  'registry',
  'ingest',
  'spark-job',
  'fanout-main',
  'cluster-a-publisher',
  'cluster-b-publisher',
  'cluster-a-node-1',
  'cluster-a-node-2',
  'cluster-b-node-1',
  'cluster-b-node-2',
];

describe('infra/docker-compose.yml', () => {
  const { services } = loadCompose();
  const svc = (name: string) => services[name] as Service;

  it('names the whole stack: Kafka, registry, Spark job, ingest, main publisher, 2 clusters × 2 nodes', () => {
    expect(Object.keys(services).sort()).toEqual([...EXPECTED_SERVICES].sort());
  });

  it('runs public images pinned to the versions in versions.json', () => {
    expect(svc('kafka').image).toBe(`apache/kafka:${versions.kafka.version}`);
    expect(svc('kafka-topics').image).toBe(`apache/kafka:${versions.kafka.version}`);
    expect(svc('registry').image).toBe(`apicurio/apicurio-registry:${versions.apicurioRegistry.version}`);
    for (const [name, s] of Object.entries(services)) {
      const image = s.image ?? '';
      expect(image, name).toMatch(/^[a-z0-9./-]+:[\w.-]+$/);
      expect(image, name).not.toMatch(/:latest$/);
      // Images without a build are pulled: they must be the public ones above.
      if (!s.build) expect(image, name).toMatch(/^(apache\/kafka|apicurio\/apicurio-registry):/);
    }
  });

  it('builds our services from infra/Dockerfile stages that exist, on pinned public bases', () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)\s+AS\s+(\S+)$/gm)].map((m) => ({
      from: m[1],
      as: m[2],
    }));
    for (const [name, s] of Object.entries(services)) {
      if (!s.build) continue;
      expect(s.build, name).toMatchObject({ context: '..', dockerfile: 'infra/Dockerfile' });
      expect(
        stages.map((st) => st.as),
        name,
      ).toContain(s.build.target);
    }
    const node = stages.find((st) => st.as === 'app')?.from ?? '';
    expect(node).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    // The Spark job image needs one JDK that suits every pin (as the provisioning checks them all).
    const jdk = /^eclipse-temurin:(\d+)-jdk-\w+$/.exec(
      stages.find((st) => st.as === 'spark-job')?.from ?? '',
    );
    const feature = Number(jdk?.[1]);
    expect(feature).toBeGreaterThanOrEqual(Math.max(versions.requires.java, versions.apicurioRegistry.java));
    expect(feature).toBeLessThanOrEqual(versions.spark.javaMax);
    for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)) {
      for (const src of (m[1] as string).split(/\s+/)) expect(existsSync(`${root}${src}`), src).toBe(true);
    }
  });

  it('orders start-up on health checks that exist, without cycles', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(services[dep], `${name} → ${dep}`).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully'], `${name} → ${dep}`).toContain(
          condition,
        );
        if (condition === 'service_healthy')
          expect(svc(dep).healthcheck, `${dep} health check`).toBeDefined();
      }
      if (name !== 'kafka-topics') expect(s.healthcheck, `${name} health check`).toBeDefined();
      // Exec form: ["CMD", program, args…] or ["CMD-SHELL", one command line], every item a string (an unquoted
      // `a ? b : c` would silently turn into a YAML mapping).
      const test = s.healthcheck?.test;
      if (test) {
        expect(
          test.every((t) => typeof t === 'string'),
          `${name} health check items`,
        ).toBe(true);
        expect(['CMD', 'CMD-SHELL'], name).toContain(test[0]);
        if (test[0] === 'CMD-SHELL') expect(test, name).toHaveLength(2);
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string) => {
      if (done.has(name)) return;
      expect(visiting.has(name), `cycle through ${name}`).toBe(false);
      visiting.add(name);
      for (const dep of Object.keys(svc(name).depends_on ?? {})) visit(dep);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(services)) visit(name);
    expect(Object.keys(svc('ingest').depends_on ?? {}).sort()).toEqual(['kafka-topics', 'registry']);
    // Cluster publishers start with the main publisher: both create the per-cluster topics, which is race-safe.
    for (const publisher of ['cluster-a-publisher', 'cluster-b-publisher']) {
      expect(Object.keys(svc(publisher).depends_on ?? {}).sort(), publisher).toEqual([
        'kafka-topics',
        'registry',
      ]);
    }
    expect(Object.keys(svc('cluster-a-node-1').depends_on ?? {}).sort()).toEqual([
      'cluster-a-publisher',
      'fanout-main',
    ]);
  });

  it('publishes ports on the host loopback only, each service on its own host port', () => {
    const hostPorts: string[] = [];
    for (const [name, s] of Object.entries(services)) {
      for (const p of s.ports ?? []) {
        expect(p, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
        hostPorts.push(p.split(':')[1] as string);
      }
    }
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('starts entries that exist, each Node service listening where its health check and ports look', () => {
    const ports: Record<string, string> = {
      ingest: 'INGEST_PORT',
      'fanout-main': 'FANOUT_MAIN_PORT',
      'cluster-a-publisher': 'CLUSTER_PUBLISHER_PORT',
      'cluster-b-publisher': 'CLUSTER_PUBLISHER_PORT',
    };
    const fanoutMain = readFileSync(`${root}fanout/main.ts`, 'utf8');
    for (const [name, s] of Object.entries(services)) {
      if (s.build?.target !== 'app') continue;
      const [node, flag, loader, entry, role] = s.command ?? [];
      expect([node, flag, loader], name).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(`${root}${entry}`), `${name}: ${entry}`).toBe(true);
      if (entry === 'fanout/main.ts') expect(fanoutMain, name).toContain(`'${role}'`);
      const env = s.environment ?? {};
      const portVar = ports[name] ?? 'SUBSCRIBER_PORT';
      const port = String(env[portVar]);
      expect(port, `${name} ${portVar}`).toMatch(/^\d+$/);
      expect(env.READY_URL, name).toBe(`http://127.0.0.1:${port}/ready`);
      expect(env.HOST, name).toBe('0.0.0.0');
      for (const p of s.ports ?? []) expect(p.split(':')[2], name).toBe(port);
      if (name.includes('-node-')) {
        const cluster = env.CLUSTER_ID;
        expect(env.CLUSTER_PUBLISHER_URL, name).toBe(`http://${cluster}-publisher:8091`);
        expect(env.DIRECTORY_URL, name).toBe('http://fanout-main:8090');
        expect(env.PUBLIC_URL, name).toBe(`http://127.0.0.1:${(s.ports?.[0] ?? '').split(':')[1]}`);
      } else {
        expect(env.KAFKA_BROKERS, name).toBe('kafka:19092');
        expect(env.SCHEMA_REGISTRY_URL, name).toBe('http://registry:8080/apis/ccompat/v7');
      }
    }
  });

  it('runs the Spark job through its launcher, its health from the runner status in the state volume', () => {
    const spark = svc('spark-job');
    expect(spark.command).toEqual(['emoji-swarm']);
    expect(existsSync(`${root}jobs/spark-sql/emoji-swarm.yml`)).toBe(true);
    const state = String(spark.environment?.SPARK_JOBS_STATE);
    expect(spark.volumes).toContain(`spark-state:${state}`);
    expect(spark.healthcheck?.test.join(' ')).toContain(`${state}/runs/emoji-swarm/status.json`);
    const dockerfile = readFileSync(`${root}infra/Dockerfile`, 'utf8');
    expect(dockerfile).toContain('ENTRYPOINT ["node", "--import", "tsx", "jobs/spark-sql/control/main.ts"]');
    expect(existsSync(`${root}jobs/spark-sql/control/main.ts`)).toBe(true);
  });
});
