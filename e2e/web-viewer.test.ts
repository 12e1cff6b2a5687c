/**
 * The web viewer and the operator dashboard in a real browser (Debian's Chromium driven by playwright-core) on the
 * whole pipeline: the page joins a match through the directory, a tap made on the page comes back in its swarm
 * with the exact count, a killed subscriber node sends the page elsewhere with a snapshot, the dashboard's charts
 * fill from the services' metrics (viewers per match included: the page's own match), and a hostile match id in
 * the URL is refused without a request leaving the page.
 *
 * Screenshots of every step go to reports/web/ (not committed). Chromium: CHROMIUM_PATH, else `chromium` on PATH
 * (`.ci/run` installs it). Playwright runs it without its sandbox (its default, chromiumSandbox: false), which
 * Chromium also requires when the tests run as root, as in CI containers.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pipeline } from '../infra/local/pipeline-services.ts';
import { repoRoot } from '../infra/local/versions.ts';
import { postBatch, startTestPipeline } from './test-pipeline.fixture.ts';

const WINDOW_MS = 2000;
const run = randomUUID().slice(0, 8);
const MATCH = `web-${run}`;
const SHOTS = path.join(repoRoot, 'reports', 'web');

let pipeline: Pipeline;
let browser: Browser;
let viewer: Page;
let webOrigin = '';
/** The subscriber node the viewer test kills. */
let killed = '';

function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'no Chromium: install it (apt-get install -y chromium) or set CHROMIUM_PATH to its binary',
    );
  }
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

async function nextWindow(marginMs = 200): Promise<void> {
  const now = Date.now();
  await sleep(Math.ceil((now + 1) / WINDOW_MS) * WINDOW_MS + marginMs - now);
}

/** Counts of the window the page shows, as drawn in its counts panel: emoji → [count, swarm]. */
async function shownCounts(page: Page): Promise<Record<string, [number, number]>> {
  return page.$$eval('#counts li', (items) =>
    Object.fromEntries(
      items.map((li) => [
        li.getAttribute('data-emoji') ?? '',
        [Number(li.getAttribute('data-count')), Number(li.getAttribute('data-swarm'))],
      ]),
    ),
  );
}

const connection = (page: Page) =>
  page.$eval('#connection', (el) => ({
    state: el.getAttribute('data-state') ?? undefined,
    node: el.getAttribute('data-node') ?? undefined,
    snapshots: el.getAttribute('data-snapshots') ?? undefined,
    text: el.textContent ?? '',
  }));

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  ({ pipeline } = await startTestPipeline({
    name: 'e2e.web',
    run,
    ingestEnv: { INGEST_BATCH_MAX_ITEMS: '5000', INGEST_MAX_BATCH_BODY_BYTES: String(4 << 20) },
  }));
  webOrigin = new URL(pipeline.viewerUrl).origin;
  browser = await chromium.launch({ executablePath: chromiumPath() });
  viewer = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 420_000);

afterAll(async () => {
  await browser?.close();
  await pipeline?.stop();
}, 120_000);

describe('the web viewer', () => {
  it('loads, asks the directory for a node and joins the match', async () => {
    await viewer.goto(`${pipeline.viewerUrl}?match=${MATCH}`);
    await expect.poll(async () => (await connection(viewer)).state, { timeout: 20_000 }).toBe('connected');
    const state = await connection(viewer);
    expect(pipeline.nodes.map((n) => n.name)).toContain(state.node);
    expect(state.text).toContain(`Watching ${MATCH} on node ${state.node}`);
    expect(state.snapshots).toBe('1');
    await shot(viewer, '1-viewer-joined');
  });

  it('shows a tap made on the page in its swarm with the exact count, and the tap→swarm time', async () => {
    // Warm-up: a fresh Spark job's first micro-batches take many seconds; the taps below measure the warm path.
    const warm = await postBatch(pipeline.ingestUrl, [
      { match_id: MATCH, user_id: 'warm-up', emoji: '⚽', timestamp: Date.now() },
    ]);
    expect(warm.status).toBe(202);
    await expect
      .poll(() => shownCounts(viewer), { timeout: 120_000, interval: 250 })
      .toEqual({ '⚽': [1, 1] });
    await sleep(5_000); // past the warm-up's batches
    await nextWindow();
    const fire = viewer.getByRole('button', { name: 'React 🔥 (key 1)' });
    await fire.click();
    await fire.click();
    await fire.click();
    await viewer.keyboard.press('4'); // 👏
    await expect
      .poll(() => shownCounts(viewer), { timeout: 60_000, interval: 250 })
      .toEqual({ '🔥': [3, 1], '👏': [1, 1] });
    await expect
      .poll(() => viewer.$eval('#latency', (el) => el.getAttribute('data-count')), { timeout: 10_000 })
      .toBe('4');
    const p50 = Number(await viewer.$eval('#latency', (el) => el.getAttribute('data-p50')));
    expect(p50).toBeGreaterThan(0);
    process.stderr.write(`web viewer: tap→swarm p50 ${p50} ms over 4 taps\n`);
    await viewer.waitForTimeout(1_800); // let the swarm's emojis rise into view for the screenshot
    await shot(viewer, '2-viewer-tap-counted');
  }, 200_000);

  it('moves to another node through the directory when its node is killed, and shows the snapshot', async () => {
    const before = await connection(viewer);
    const shown = await shownCounts(viewer);
    killed = before.node ?? '';
    await pipeline.kill(killed);
    await expect
      .poll(async () => (await connection(viewer)).state, { timeout: 30_000, interval: 100 })
      .toBe('reassigned');
    const after = await connection(viewer);
    expect(after.node).not.toBe(before.node);
    expect(after.text).toContain(`node ${before.node} was lost`);
    expect(Number(after.snapshots)).toBeGreaterThan(Number(before.snapshots));
    expect(await shownCounts(viewer)).toEqual(shown);
    await shot(viewer, '3-viewer-reassigned');
  }, 60_000);

  it('draws 20 emoji kinds at once', async () => {
    const kinds = [...'🔥😂👏😮😢🎉👍😡🥳😍🤯😱🙌💯⚽🏆😴🤔👀💔'];
    expect(kinds).toHaveLength(20);
    await nextWindow();
    // 2500 of each in 10 requests (each its own ingest timestamp, so spread over a few windows): 20 kinds at once.
    for (let part = 0; part < 10; part++) {
      const reactions = kinds.flatMap((emoji, k) =>
        Array.from({ length: 250 }, (_, i) => ({
          match_id: MATCH,
          user_id: `load-${k}-${part}-${i}`,
          emoji,
          timestamp: Date.now(),
        })),
      );
      expect((await postBatch(pipeline.ingestUrl, reactions)).status).toBe(202);
    }
    await expect
      .poll(async () => Object.keys(await shownCounts(viewer)).length, { timeout: 60_000, interval: 250 })
      .toBe(20);
    await viewer.waitForTimeout(2_500);
    const fps = Number(await viewer.$eval('#fps', (el) => el.getAttribute('data-fps')));
    process.stderr.write(`web viewer: ${fps} fps with 20 emoji kinds on the stage (headless Chromium)\n`);
    expect(fps).toBeGreaterThan(20);
    await shot(viewer, '4-viewer-20-kinds');
  }, 90_000);

  it('refuses hostile match ids with a clear message and sends nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // phone width
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const hostile = ['<script>alert(1)</script>', 'a'.repeat(10_240), 'm\u0000\u202e\u0007x', '../windows'];
    for (const id of hostile) {
      requests.length = 0;
      await page.goto(`${pipeline.viewerUrl}?match=${encodeURIComponent(id)}`);
      await page.waitForSelector('#match-error:not([hidden])');
      const message = await page.$eval('#match-error', (el) => el.textContent ?? '');
      expect(message).toContain('Cannot watch match');
      expect(message).toContain('Nothing was sent');
      expect(message.length).toBeLessThan(400);
      await page.waitForTimeout(500);
      expect((await connection(page)).state).toBe('idle');
      // Only the page itself and its own assets were fetched: nothing reached the directory, ingest or a node.
      expect(requests.map((u) => new URL(u).origin).filter((o) => o !== webOrigin)).toEqual([]);
      expect(requests.map((u) => new URL(u).pathname).sort()).toEqual([
        '/assets/viewer.css',
        '/assets/viewer.js',
        '/viewer',
      ]);
    }
    await shot(page, '5-viewer-hostile-id-phone');
    // Typed into the form: the same check, nothing sent either.
    requests.length = 0;
    await page.getByLabel('Match').fill('final match');
    await page.getByRole('button', { name: 'Watch' }).click();
    await page.waitForTimeout(300);
    expect(await page.$eval('#match-error', (el) => el.textContent ?? '')).toContain('"final match"');
    expect(requests).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('the operator dashboard', () => {
  it('charts the services’ metrics and job status, and shows a stopped node as down', async () => {
    // The node killed above was restarted by the supervisor; stopped for good now (a stop cancels restarts), it is
    // the service that is down while the page watches.
    const node = pipeline.services.find((s) => s.name === killed);
    if (node === undefined) throw new Error(`no service ${killed}`);
    await node.stop();
    const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
    await page.goto(pipeline.dashboardUrl);
    // Some traffic to chart while the page watches.
    const feed = setInterval(() => {
      void postBatch(
        pipeline.ingestUrl,
        Array.from({ length: 50 }, (_, i) => ({
          match_id: MATCH,
          user_id: `dash-${i}`,
          emoji: '🎉',
          timestamp: Date.now(),
        })),
      ).catch(() => {});
    }, 500);
    try {
      const latest = (id: string) =>
        page.$eval(`#chart-${id}`, (el) => JSON.parse(el.getAttribute('data-latest') ?? '{}'));
      const series = (id: string) =>
        page.$eval(`#chart-${id}`, (el) => Number(el.getAttribute('data-series')));
      await expect
        .poll(async () => (await latest('reactions')).accepted ?? 0, { timeout: 30_000 })
        .toBeGreaterThan(0);
      await expect.poll(() => series('batch-duration'), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => series('input-rows'), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => series('viewers'), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => series('deliveries'), { timeout: 30_000 }).toBeGreaterThan(0);
      await expect.poll(() => series('latency'), { timeout: 30_000 }).toBeGreaterThan(0);
      // The viewer page watches MATCH (on the node it was re-assigned to): the one viewer of that match.
      await expect.poll(async () => (await latest('match-viewers'))[MATCH], { timeout: 30_000 }).toBe(1);
      const viewers = await latest('viewers');
      expect(Object.values(viewers).reduce((a: number, b) => a + Number(b), 0)).toBeGreaterThanOrEqual(1);
      // The stopped node is listed as down, with the reason; the page carries on.
      const down = await page.$$eval('#services li[data-up="false"]', (items) =>
        items.map((li) => li.getAttribute('data-service')),
      );
      expect(down).toEqual([killed]);
      expect(
        await page.$eval(`#services li[data-service="${killed}"]`, (li) => li.textContent ?? ''),
      ).toMatch(/DOWN \(.+\)/);
      expect(
        await page.$eval('#jobs tbody tr[data-job="emoji-swarm"] td:nth-child(2)', (td) => td.textContent),
      ).toBe('running');
      await page.waitForTimeout(4_000);
      await page.screenshot({ path: path.join(SHOTS, '6-dashboard.png'), fullPage: true });
    } finally {
      clearInterval(feed);
      await page.close();
    }
  }, 90_000);
});
