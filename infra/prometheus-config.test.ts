/**
 * The Prometheus scrape configuration and the Grafana dashboard for the compose stack: every scrape target is a
 * compose service on the port it listens on, and every metric a panel queries is one a service defines.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';

const root = fileURLToPath(new URL('../', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

describe('infra/prometheus.yml', () => {
  it('scrapes every EmoStream service of the compose file on its port', () => {
    const compose = parseDocument(read('infra/docker-compose.yml'), { merge: true }).toJS({
      maxAliasCount: 100,
    }) as {
      services: Record<string, { environment?: Record<string, string | number> }>;
    };
    const config = parse(read('infra/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const targets = config.scrape_configs.flatMap((j) => j.static_configs.flatMap((s) => s.targets));
    for (const target of targets) {
      const [host, port] = target.split(':');
      const env = compose.services[host ?? '']?.environment ?? {};
      expect(Object.keys(compose.services), target).toContain(host);
      const ports = ['INGEST_PORT', 'FANOUT_MAIN_PORT', 'CLUSTER_PUBLISHER_PORT', 'SUBSCRIBER_PORT'].map(
        (v) => String(env[v]),
      );
      expect(ports, target).toContain(port);
    }
    const app = Object.entries(compose.services)
      .filter(
        ([, s]) =>
          s.environment?.INGEST_PORT ??
          s.environment?.FANOUT_MAIN_PORT ??
          s.environment?.CLUSTER_PUBLISHER_PORT ??
          s.environment?.SUBSCRIBER_PORT,
      )
      .map(([name]) => name);
    expect(targets.map((t) => t.split(':')[0]).sort()).toEqual(app.sort());
  });
});

describe('infra/grafana/emostream-dashboard.json', () => {
  it('queries only metrics the services define', () => {
    const dashboard = JSON.parse(read('infra/grafana/emostream-dashboard.json')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const defined = [
      read('ingest/metrics.ts'),
      read('fanout/http-server.ts'),
      read('fanout/subscriber-node/match-viewers.ts'),
    ].join('\n');
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(5);
    for (const expr of exprs) {
      for (const metric of expr.match(/\b(ingest|fanout)_[a-z_]+/g) ?? []) {
        const base = metric.replace(/_(bucket|sum|count)$/, '');
        expect(defined, `${metric} in ${expr}`).toContain(`name: '${base}'`);
      }
    }
  });
});
