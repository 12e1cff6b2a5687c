/**
 * The whole pipeline on this machine: known reactions POSTed to ingest → Kafka → the emoji-swarm job, on each
 * engine in turn (real spark-submit, local[2]; then PyFlink's local mini-cluster) → fan-out main publisher → 2 cluster publishers → 2 subscriber nodes each →
 * viewers assigned through the directory. Kafka and the registry come from the integration globalSetup; every
 * EmoStream service runs as a supervised child process (infra/local/pipeline-services.ts), on fresh topics of its own.
 *
 * Windows are on the ingest timestamp (server clock, one per batch request), and the batch answer names it
 * (`ingest_ts`), so each burst of reactions is one batch request whose answer says exactly which window it counts in.
 * Bursts are sent just after a window boundary only so that consecutive bursts land in distinct windows.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotMessage, SwarmMessage } from '../common/socket-events.ts';
import { createViewer, swarmSize, type Viewer } from '../fanout/index.ts';
import type { Pipeline } from '../infra/local/pipeline-services.ts';
import type { Engine } from '../jobs/spark-sql/control/job-plan.ts';
import { postBatch, startTestPipeline } from './test-pipeline.fixture.ts';

const WINDOW_MS = 2000;
/**
 * The engines the whole pipeline runs on, each in turn with a pipeline of its own (`E2E_ENGINES=spark` runs one):
 * the same posts must reach the viewers with the same exact counts whichever engine folds them.
 */
const ENGINES = (process.env.E2E_ENGINES ?? 'spark,flink').split(',').filter(Boolean) as Engine[];

/** Sleeps until `marginMs` after the next window boundary. */
async function nextWindow(marginMs = 250): Promise<void> {
  const now = Date.now();
  await sleep(Math.ceil((now + 1) / WINDOW_MS) * WINDOW_MS + marginMs - now);
}

/** window start → counts, of what a viewer holds (or a snapshot carries) for a match. */
function countsOf(windows: SwarmMessage[]): Map<number, Record<string, number>> {
  return new Map(windows.map((w) => [w.window_start, w.counts]));
}

/** Checks every held window of `matchId` against the expectation: exact counts, rule-following swarms. */
function holdsExactly(windows: SwarmMessage[], expected: Map<number, Record<string, number>>): boolean {
  const held = countsOf(windows);
  if (held.size !== expected.size) return false;
  for (const [start, counts] of expected) {
    const got = held.get(start);
    if (got === undefined || JSON.stringify(sorted(got)) !== JSON.stringify(sorted(counts))) return false;
  }
  return windows.every((w) =>
    Object.entries(w.counts).every(([emoji, count]) => w.swarm[emoji] === swarmSize(count)),
  );
}

const sorted = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).sort());

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** A started viewer with every message it got, snapshots included. */
interface Watched {
  viewer: Viewer;
  swarms: SwarmMessage[];
  snapshots: SnapshotMessage[];
}

describe.each(ENGINES)('the whole pipeline on %s', (engine) => {
  const run = randomUUID().slice(0, 8);
  const A = `final-${run}`;
  const B = `semi-${run}`;

  let pipeline: Pipeline;
  const viewers: Viewer[] = [];
  /** Expected counts of match A: window start → emoji → count (what was posted, by the window it landed in). */
  const expectedA = new Map<number, Record<string, number>>();
  const expectedB = new Map<number, Record<string, number>>();
  let userSeq = 0;

  /** Posts one batch of reactions as ONE request (one ingest timestamp) and returns the window it landed in. */
  async function postBurst(matchId: string, counts: Record<string, number>): Promise<number> {
    const reactions = Object.entries(counts).flatMap(([emoji, n]) =>
      Array.from({ length: n }, () => ({
        match_id: matchId,
        user_id: `u${userSeq++}`,
        emoji,
        timestamp: Date.now(),
      })),
    );
    const { status, body } = await postBatch(pipeline.ingestUrl, reactions);
    expect(status, JSON.stringify(body)).toBe(202);
    expect(body).toMatchObject({ accepted: reactions.length, rejected: 0 });
    // The server's stamp on every accepted item of the request: the window they count in.
    expect(Number.isInteger(body.ingest_ts), JSON.stringify(body)).toBe(true);
    const window = Math.floor(body.ingest_ts / WINDOW_MS) * WINDOW_MS;
    const expected = matchId === A ? expectedA : expectedB;
    const held = expected.get(window) ?? {};
    for (const [emoji, n] of Object.entries(counts)) held[emoji] = (held[emoji] ?? 0) + n;
    expected.set(window, held);
    return window;
  }

  async function watch(matchId: string): Promise<Watched> {
    const viewer = createViewer({ directoryUrl: pipeline.directoryUrl, matchIds: [matchId] });
    const watched: Watched = { viewer, swarms: [], snapshots: [] };
    viewer.on('swarm', (m) => watched.swarms.push(m));
    viewer.on('snapshot', (s) => watched.snapshots.push(s));
    viewer.on('error', () => {});
    viewers.push(viewer);
    await viewer.start();
    return watched;
  }

  beforeAll(async () => {
    ({ pipeline } = await startTestPipeline({
      name: `e2e-${engine}`,
      run,
      engine,
      // One request per burst, up to a few thousand reactions; one test user per reaction is no abuse.
      ingestEnv: {
        INGEST_BATCH_MAX_ITEMS: '5000',
        INGEST_MAX_BATCH_BODY_BYTES: String(4 << 20),
        INGEST_RATE_LIMIT_PER_SEC: '0',
      },
    }));
  }, 600_000);

  afterAll(async () => {
    for (const v of viewers) v.stop();
    await pipeline?.stop();
  }, 120_000);

  let a: Watched[] = [];
  let b: Watched;

  it('delivers exact per-window counts and rule-following swarms to every viewer of A, on both clusters, and nothing of A to B', async () => {
    for (let i = 0; i < 4; i++) a.push(await watch(A));
    b = await watch(B);
    const clusters = new Set(a.map((w) => w.viewer.assignment?.cluster_id));
    const nodes = new Set(a.map((w) => w.viewer.assignment?.node_id));
    expect(clusters.size).toBe(2);
    expect(nodes.size).toBeGreaterThanOrEqual(3);

    // Three bursts in three consecutive windows; 🔥 and 😂 above 1000 in a window.
    await nextWindow();
    await postBurst(A, { '🔥': 1500, '👏': 3, '❤️': 999 });
    await postBurst(B, { '😂': 7 });
    await nextWindow();
    await postBurst(A, { '🔥': 2, '😂': 2001 });
    await nextWindow();
    await postBurst(A, { '👍': 1000, '🔥': 1 });
    expect(expectedA.size).toBe(3);

    await until(
      () => a.every((w) => holdsExactly(w.viewer.windows(A), expectedA)),
      150_000,
      'every viewer of A holds the posted counts',
    );
    for (const w of a) {
      expect(countsOf(w.viewer.windows(A))).toEqual(expectedA);
      for (const window of w.viewer.windows(A)) {
        for (const [emoji, count] of Object.entries(window.counts)) {
          expect(window.swarm[emoji]).toBe(swarmSize(count));
        }
      }
    }
    const firstWindow = Math.min(...expectedA.keys());
    expect(a[0]?.viewer.windows(A).find((w) => w.window_start === firstWindow)?.swarm).toMatchObject({
      '🔥': 1,
      '❤️': 1,
      '👏': 1,
    });
    expect(a[0]?.viewer.windows(A).find((w) => w.window_start === firstWindow + WINDOW_MS)?.swarm).toEqual({
      '🔥': 1,
      '😂': 2,
    });

    await until(
      () => holdsExactly(b.viewer.windows(B), expectedB),
      60_000,
      'the viewer of B holds its counts',
    );
    const seenByB = [...b.swarms, ...b.snapshots.flatMap((s) => s.windows)];
    expect(seenByB.length).toBeGreaterThan(0);
    expect(seenByB.filter((m) => m.match_id !== B)).toEqual([]);
    expect(b.viewer.windows(A)).toEqual([]);
    // …and A's viewers got nothing of B.
    for (const w of a) expect(w.swarms.filter((m) => m.match_id !== A)).toEqual([]);
  }, 240_000);

  it('gives a viewer joining late the recent windows as a snapshot', async () => {
    const late = await watch(A);
    await until(() => late.snapshots.length > 0, 10_000, 'late viewer snapshot');
    const snapshot = late.snapshots[0];
    expect(snapshot?.match_id).toBe(A);
    expect(countsOf(snapshot?.windows ?? [])).toEqual(expectedA);
    expect(holdsExactly(snapshot?.windows ?? [], expectedA)).toBe(true);
    a.push(late);
  });

  it('sends the viewers of a killed subscriber node through the directory to another node, with a snapshot', async () => {
    const victimNode = a[0]?.viewer.assignment?.node_id ?? '';
    const victims = a.filter((w) => w.viewer.assignment?.node_id === victimNode);
    expect(victims.length).toBeGreaterThan(0);
    const snapshotsBefore = new Map(victims.map((w) => [w, w.snapshots.length]));

    await pipeline.kill(victimNode);

    await until(
      () =>
        victims.every(
          (w) =>
            w.viewer.assignment !== undefined &&
            w.viewer.assignment.node_id !== victimNode &&
            w.snapshots.length > (snapshotsBefore.get(w) ?? 0),
        ),
      30_000,
      'victims reconnected elsewhere with a snapshot',
    );
    for (const w of victims) {
      const fresh = w.snapshots.at(-1);
      expect(fresh?.match_id).toBe(A);
      expect(countsOf(fresh?.windows ?? [])).toEqual(expectedA);
    }

    // Live updates still reach every viewer of A, the moved ones included.
    await nextWindow();
    await postBurst(A, { '🎉': 5 });
    a = a.filter((w) => w.viewer.assignment !== undefined);
    await until(
      () => a.every((w) => holdsExactly(w.viewer.windows(A), expectedA)),
      90_000,
      'every viewer of A got the burst posted after the kill',
    );
    expect(a.every((w) => w.viewer.assignment?.node_id !== victimNode)).toBe(true);
  }, 180_000);
});
