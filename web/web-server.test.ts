/**
 * The web server on its own (no Kafka): it serves both pages with their bundles built from this repo, embeds the
 * stack's addresses in the viewer page without letting them break out of their script element, and its
 * dashboard feed turns a service's counters into rates and reports a service that does not answer as down.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.ts';
import { freePort } from '../infra/local/ports.ts';
import { webConfigFromEnv } from './config.ts';
import type { DashboardPoint } from './dashboard-feed.ts';
import { createWebServer, type WebServer } from './web-server.ts';

const registry = new Registry();
const accepted = new Counter({
  name: 'ingest_reactions_accepted_total',
  help: 'h',
  labelNames: ['endpoint'],
  registers: [registry],
});
const rejected = new Counter({
  name: 'ingest_reactions_rejected_total',
  help: 'h',
  labelNames: ['reason'],
  registers: [registry],
});
let metricsServer: Server;
let web: WebServer;

beforeAll(async () => {
  metricsServer = createServer((_req, res) => {
    registry.metrics().then((text) => res.end(text));
  });
  await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
  const port = (metricsServer.address() as AddressInfo).port;
  const closed = await freePort('127.0.0.1'); // nothing listens there
  web = createWebServer(
    webConfigFromEnv({
      WEB_PORT: '0',
      INGEST_URL: 'http://127.0.0.1:1/</script><script>x()</script>',
      DIRECTORY_URL: 'http://127.0.0.1:2',
      WEB_METRICS_TARGETS: `ingest:ingest=http://127.0.0.1:${port},subscriber-node:gone=http://127.0.0.1:${closed}`,
      WEB_SCRAPE_MS: '60000',
    }),
    { logger: createLogger('web-test', 'silent') },
  );
  await web.start();
});
afterAll(async () => {
  await web.stop();
  await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
});

describe('web server', () => {
  it('serves the viewer page with the stack addresses embedded as inert JSON', async () => {
    const res = await fetch(`${web.url}/viewer`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const json = /<script type="application\/json" id="stack-config">(.*?)<\/script>/.exec(html)?.[1] ?? '';
    expect(JSON.parse(json)).toEqual({
      ingestUrl: 'http://127.0.0.1:1/</script><script>x()</script>',
      directoryUrl: 'http://127.0.0.1:2',
    });
    expect(html).not.toContain('<script>x()');
  });

  it('serves both pages’ bundles, built from the repo’s TypeScript', async () => {
    for (const file of ['viewer.js', 'viewer.css', 'dashboard.js', 'dashboard.css']) {
      const res = await fetch(`${web.url}/assets/${file}`);
      expect(res.status, file).toBe(200);
      expect((await res.arrayBuffer()).byteLength, file).toBeGreaterThan(1000);
    }
    // The viewer checks match ids with the zod-free grammar (common/id-grammar.ts): zod alone would add 454 kB.
    const viewerJs = await (await fetch(`${web.url}/assets/viewer.js`)).arrayBuffer();
    expect(viewerJs.byteLength).toBeLessThan(300_000);
    const missing = await fetch(`${web.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  it('charts rates from counter deltas and shows a service that does not answer as down', async () => {
    await web.feed.scrape();
    accepted.inc({ endpoint: 'batch' }, 500);
    rejected.inc({ reason: 'rate-limited' }, 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await web.feed.scrape();
    const res = await fetch(`${web.url}/api/dashboard?since=0`);
    const { points } = (await res.json()) as { points: DashboardPoint[] };
    const last = points.at(-1);
    const prev = points.at(-2);
    expect(points.length).toBeGreaterThanOrEqual(2); // start() scrapes once too
    expect(points[0]?.acceptedPerSec).toBeNull(); // no previous scrape: no rate, not a made-up zero
    expect(last?.services.ingest).toEqual({ role: 'ingest', up: true });
    expect(last?.services.gone?.up).toBe(false);
    expect(last?.services.gone?.error).toBe('ECONNREFUSED');
    const dt = ((last?.t ?? 0) - (prev?.t ?? 0)) / 1000;
    expect(last?.acceptedPerSec).toBeCloseTo(500 / dt, 3);
    expect(last?.rejectedPerSec['rate-limited']).toBeCloseTo(20 / dt, 3);
    const bad = await fetch(`${web.url}/api/dashboard?since=soon`);
    expect(bad.status).toBe(400);
  });
});
