/**
 * The service bundles with real processes: a bundle started the way pipeline-services.ts starts it (the supervisor,
 * its prepare step building what is stale) runs without tsx and finds its files where its sources are; an edited
 * source makes the build stale and the next start builds again.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './ports.ts';
import { bundlePath, ensureServiceBuild, SERVICES_DIST, serviceEntry, staleReason } from './service-build.ts';
import { startService } from './supervisor.ts';
import { repoRoot } from './versions.ts';

const runDir = mkdtempSync(path.join(tmpdir(), 'emostream-service-build-'));
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

describe('service bundles', { timeout: 60_000 }, () => {
  it('runs the web server from its bundle, without tsx, serving pages and browser code read beside its sources', async () => {
    const port = await freePort();
    const service = await startService(
      {
        name: 'web',
        ...serviceEntry('web/main.ts'),
        cwd: repoRoot,
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          WEB_PORT: String(port),
          INGEST_URL: 'http://127.0.0.1:1',
          DIRECTORY_URL: 'http://127.0.0.1:1',
        },
        readyTimeoutMs: 30_000,
        stopTimeoutMs: 5_000,
        ready: async (signal) => (await fetch(`http://127.0.0.1:${port}/health`, { signal })).ok,
      },
      runDir,
    );
    try {
      const cmdline = readFileSync(`/proc/${service.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain(bundlePath('web/main.ts'));
      expect(cmdline.join(' ')).not.toContain('tsx');
      // viewer.html is read relative to web-server.ts, viewer.js bundled from web/viewer/ on request.
      const page = await fetch(`http://127.0.0.1:${port}/viewer`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const script = await fetch(`http://127.0.0.1:${port}/assets/viewer.js`);
      expect(script.status).toBe(200);
      expect((await script.text()).length).toBeGreaterThan(1000);
    } finally {
      await service.stop();
    }
  });

  it('builds again once a source the bundles are made of changed', async () => {
    await ensureServiceBuild();
    expect(staleReason()).toBeUndefined();
    const stamp = JSON.parse(readFileSync(path.join(SERVICES_DIST, 'build.json'), 'utf8')) as {
      inputs: Record<string, number>;
    };
    const source = 'common/socket-events.ts';
    expect(Object.keys(stamp.inputs)).toContain(source);
    const file = path.join(repoRoot, source);
    const { atime, mtime } = statSync(file);
    // An edit, as far as the build can tell.
    utimesSync(file, atime, new Date(mtime.getTime() + 1000));
    expect(staleReason()).toBe(`${source} changed`);
    const before = statSync(path.join(SERVICES_DIST, 'build.json')).mtimeMs;
    await ensureServiceBuild();
    expect(staleReason()).toBeUndefined();
    expect(statSync(path.join(SERVICES_DIST, 'build.json')).mtimeMs).toBeGreaterThan(before);
  });
});
