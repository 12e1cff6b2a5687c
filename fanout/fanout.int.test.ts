/**
 * The fan-out against a real Kafka and schema registry: aggregate rows produced on a fresh topic → main publisher
 * → per-cluster topics → two cluster publishers → subscriber nodes → viewers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Admin, Partitioners, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AvroSerde, createAvroSerde, createRegistryClient, loadSchema } from '../common/avro-serde.ts';
import { createKafka, ensureTopic } from '../common/kafka.ts';
import { createLogger } from '../common/logger.ts';
import type { AggregateRow } from '../common/records.ts';
import type { SnapshotMessage, SwarmMessage } from '../common/socket-events.ts';
import { histogramBuckets, parsePrometheusText } from '../web/prometheus-text.ts';
import {
  type ClusterPublisher,
  createClusterPublisher,
  createMainPublisher,
  createSubscriberNode,
  createViewer,
  type MainPublisher,
  type SubscriberNode,
  type Viewer,
} from './index.ts';

const logger = pino({ level: process.env.FANOUT_TEST_LOG ?? 'warn' });
const run = randomUUID().slice(0, 8);
const aggregatesTopic = `emoji.aggregates.it-${run}`;
const topicPrefix = `emoji.fanout.it-${run}`;
const W0 = Math.floor(Date.now() / 2000) * 2000 - 10_000;
const W1 = W0 + 2000;
const W2 = W0 + 4000;

let brokers: string;
let registryUrl: string;
let admin: Admin;
let producer: Producer;
let serde: AvroSerde<AggregateRow>;
let main: MainPublisher;
const publishers: ClusterPublisher[] = [];
const nodes = new Map<string, SubscriberNode>();
const sockets: Socket[] = [];
const viewers: Viewer[] = [];
/** Child processes a test spawned; killed in afterAll, also when the test failed before stopping them. */
const children: ChildProcess[] = [];

function row(
  matchId: string,
  windowStart: number,
  emoji: string,
  count: number,
  emittedAt: number,
): AggregateRow {
  return {
    match_id: matchId,
    window_start: windowStart,
    window_end: windowStart + 2000,
    emoji,
    count,
    swarm: count > 1000 ? Math.floor(count / 1000) : 1,
    emitted_at: emittedAt,
  };
}

async function produce(rows: AggregateRow[]): Promise<void> {
  await producer.send({
    topic: aggregatesTopic,
    messages: rows.map((r) => ({ key: r.match_id, value: serde.encode(r) })),
  });
}

async function until(check: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The main publisher's configuration in these tests; `port` 0 picks a free one. */
function mainConfig(groupId: string, port = 0) {
  return {
    kafkaBrokers: [brokers],
    registryUrl,
    host: '127.0.0.1',
    port,
    aggregatesTopic,
    groupId,
    topicPrefix,
    topicPartitions: 2,
    windowsKept: 30,
    maxMatches: 1000,
    replayMs: 120_000,
    nodeTtlMs: 3_000,
    corsOrigins: [],
  };
}

function nodeConfig(clusterId: string, nodeId: string) {
  const publisher = publishers[clusterId === 'c1' ? 0 : 1];
  return {
    host: '127.0.0.1',
    port: 0,
    clusterId,
    nodeId,
    clusterPublisherUrl: publisher?.url ?? '',
    directoryUrl: main.url,
    maxRoomsPerSocket: 8,
    slowViewerMs: 10_000,
    maxViewerBufferBytes: 1 << 20,
    heartbeatMs: 300,
  };
}

/** A raw viewer on a given node that records everything it receives. */
async function viewerOn(node: SubscriberNode, matchId: string) {
  const socket = connect(node.url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  const swarms: SwarmMessage[] = [];
  const snapshots: SnapshotMessage[] = [];
  socket.on('swarm', (m: SwarmMessage) => swarms.push(m));
  socket.on('snapshot', (s: SnapshotMessage) => snapshots.push(s));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const answer = await socket.timeout(5_000).emitWithAck('join', { match_id: matchId });
  expect(answer).toMatchObject({ ok: true });
  /** Latest state per window, as a client keeps it. */
  const state = () => {
    const windows = new Map<number, SwarmMessage>();
    for (const m of [...snapshots.flatMap((s) => s.windows), ...swarms]) {
      const held = windows.get(m.window_start);
      if (held === undefined || held.emitted_at <= m.emitted_at) windows.set(m.window_start, m);
    }
    return windows;
  };
  return { socket, swarms, snapshots, state };
}

beforeAll(async () => {
  brokers = inject('kafkaBrokers');
  registryUrl = inject('registryUrl');
  const kafka = createKafka({ clientId: `fanout-it-${run}`, brokers, logger: createLogger('fanout-it') });
  admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic: aggregatesTopic, partitions: 3 });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  serde = await createAvroSerde<AggregateRow>(createRegistryClient(registryUrl), {
    topic: aggregatesTopic,
    schema: await loadSchema('aggregate'),
  });

  main = createMainPublisher(mainConfig(`fanout-main-${run}`), { logger });
  await main.start();
  for (const clusterId of ['c1', 'c2']) {
    const publisher = createClusterPublisher(
      {
        kafkaBrokers: [brokers],
        registryUrl,
        host: '127.0.0.1',
        port: 0,
        clusterId,
        groupId: `fanout-${clusterId}-${run}`,
        topicPrefix,
        topicPartitions: 2,
        staleMs: 60_000,
      },
      { logger },
    );
    await publisher.start();
    publishers.push(publisher);
  }
  for (const [clusterId, nodeId] of [
    ['c1', 'c1-n1'],
    ['c2', 'c2-n1'],
    ['c1', 'c1-n2'],
  ] as const) {
    const node = createSubscriberNode(nodeConfig(clusterId, nodeId), { logger });
    await node.start();
    nodes.set(nodeId, node);
  }
  await until(
    () => main.ready && publishers.every((p) => p.ready) && [...nodes.values()].every((n) => n.ready),
    60_000,
    'all tiers ready',
  );
});

afterAll(async () => {
  for (const v of viewers) v.stop();
  for (const s of sockets) s.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const node of nodes.values()) await node.stop();
  for (const publisher of publishers) await publisher.stop();
  await main?.stop();
  await producer?.disconnect();
  await admin?.disconnect();
});

describe('fan-out with Kafka and the registry', () => {
  let a1: Awaited<ReturnType<typeof viewerOn>>;
  let a2: Awaited<ReturnType<typeof viewerOn>>;
  let b1: Awaited<ReturnType<typeof viewerOn>>;

  it('delivers exactly the per-window counts and swarms to viewers of A on two clusters, none to B', async () => {
    const n1 = nodes.get('c1-n1');
    const n2 = nodes.get('c2-n1');
    if (n1 === undefined || n2 === undefined) throw new Error('nodes missing');
    a1 = await viewerOn(n1, 'A');
    a2 = await viewerOn(n2, 'A');
    b1 = await viewerOn(n1, 'B');
    await until(() => main.directory.routes().get('A')?.size === 2, 10_000, 'A routed to both clusters');

    const t = Date.now();
    // Running totals of 🔥 in W0 across micro-batches, a repeated row, a stale older row, and a second window.
    await produce([row('A', W0, '🔥', 1000, t), row('A', W0, '😂', 12, t)]);
    await produce([row('A', W0, '🔥', 2500, t + 2000), row('A', W1, '🔥', 5, t + 2000)]);
    await produce([row('A', W0, '🔥', 3785, t + 4000), row('A', W0, '😂', 12, t)]);
    await produce([row('A', W0, '🔥', 2500, t + 2000), row('A', W0, '🔥', 3785, t + 4000)]);
    await produce([row('B', W0, '👏', 7, t)]);

    const expected = new Map([
      [W0, { counts: { '🔥': 3785, '😂': 12 }, swarm: { '🔥': 3, '😂': 1 } }],
      [W1, { counts: { '🔥': 5 }, swarm: { '🔥': 1 } }],
    ]);
    const done = (v: typeof a1) =>
      v.state().get(W0)?.counts['🔥'] === 3785 && v.state().get(W1)?.counts['🔥'] === 5;
    await until(() => done(a1) && done(a2) && b1.swarms.length > 0, 30_000, 'windows delivered');
    await new Promise((r) => setTimeout(r, 1_000)); // anything late or duplicated would arrive now
    for (const v of [a1, a2]) {
      const state = v.state();
      expect([...state.keys()].sort()).toEqual([W0, W1]);
      for (const [start, want] of expected) {
        expect(state.get(start)?.counts).toEqual(want.counts);
        expect(state.get(start)?.swarm).toEqual(want.swarm);
      }
      // Never more than the true total at any point: repeats and replays did not add up.
      for (const m of v.swarms)
        expect(m.counts['🔥'] ?? 0).toBeLessThanOrEqual(m.window_start === W0 ? 3785 : 5);
      expect(v.swarms.every((m) => m.match_id === 'A')).toBe(true);
      // One message per (match, window) change: at most one per produced batch that changed the window.
      expect(v.swarms.filter((m) => m.window_start === W0).length).toBeLessThanOrEqual(3);
    }
    expect(b1.swarms.map((m) => m.match_id)).toEqual(['B']);
    expect(b1.swarms[0]?.counts).toEqual({ '👏': 7 });
  });

  it('reads a row by its value alone, whatever its Kafka key (Spark: match_id; Flink: the row as JSON; none)', async () => {
    const n1 = nodes.get('c1-n1');
    if (n1 === undefined) throw new Error('node missing');
    const k = await viewerOn(n1, 'K');
    await until(() => main.directory.routes().get('K')?.size === 1, 10_000, 'K routed');
    const t = Date.now();
    const flinkKey = (r: AggregateRow) =>
      JSON.stringify({
        match_id: r.match_id,
        window_start: new Date(r.window_start).toISOString(),
        emoji: r.emoji,
      });
    const keyed = [
      { key: 'K', row: row('K', W0, '🔥', 10, t) }, // Spark's key
      { key: flinkKey(row('K', W0, '🔥', 20, t + 1)), row: row('K', W0, '🔥', 20, t + 1) }, // Flink's upsert key
      { key: null, row: row('K', W1, '👏', 1500, t) }, // no key at all
    ];
    await producer.send({
      topic: aggregatesTopic,
      messages: keyed.map(({ key, row: r }) => ({ key, value: serde.encode(r) })),
    });
    await until(
      () => k.state().get(W0)?.counts['🔥'] === 20 && k.state().get(W1)?.counts['👏'] === 1500,
      30_000,
      'K windows delivered',
    );
    expect(k.state().get(W1)?.swarm).toEqual({ '👏': 1 });
  });

  it("carries each hop's stamp to the viewer: the row's Kafka timestamp, then routed, sent, relayed in order", async () => {
    const n1 = nodes.get('c1-n1');
    if (n1 === undefined) throw new Error('node missing');
    const h = await viewerOn(n1, 'H');
    await until(() => main.directory.routes().get('H')?.size === 1, 10_000, 'H routed');
    const t = Date.now();
    // The record's own timestamp, as Spark's sink leaves it to its producer: what aggregated_at must carry.
    const writtenAt = t + 1_234; // not what a default send would stamp
    await producer.send({
      topic: aggregatesTopic,
      messages: [{ key: 'H', value: serde.encode(row('H', W0, '🔥', 3, t)), timestamp: String(writtenAt) }],
    });
    await until(() => h.swarms.length > 0, 30_000, 'H delivered');
    const m = h.swarms[0] as SwarmMessage;
    expect(m).toMatchObject({ emitted_at: t, aggregated_at: writtenAt });
    expect(m.routed_at).toBeGreaterThanOrEqual(t);
    expect(m.sent_at).toBeGreaterThanOrEqual(m.routed_at);
    expect(m.relayed_at).toBeGreaterThanOrEqual(m.sent_at);
    expect(m.relayed_at).toBeLessThanOrEqual(Date.now());

    // The main publisher's latency histogram is its own hop, from the row on Kafka: a row whose micro-batch started
    // an hour ago but was written just now is a fresh one there, not an hour late.
    const hourAgo = Date.now() - 3_600_000;
    await produce([row('H', W1, '🔥', 4, hourAgo)]);
    await until(() => h.state().get(W1)?.counts['🔥'] === 4, 30_000, 'the hour-old row delivered');
    const metrics = parsePrometheusText(await (await fetch(`${main.url}/metrics`)).text());
    const buckets = new Map(histogramBuckets(metrics, 'fanout_emit_latency_seconds'));
    expect(buckets.get(Number.POSITIVE_INFINITY)).toBeGreaterThan(0);
    expect(buckets.get(10)).toBe(buckets.get(Number.POSITIVE_INFINITY));
  });

  it('gives a late joiner the recent windows as a snapshot', async () => {
    const n3 = nodes.get('c1-n2');
    if (n3 === undefined) throw new Error('node missing');
    const late = await viewerOn(n3, 'A');
    expect(late.snapshots).toHaveLength(1);
    const windows = late.snapshots[0]?.windows ?? [];
    expect(windows.map((w) => w.window_start)).toEqual([W0, W1]);
    expect(windows[0]?.counts).toEqual({ '🔥': 3785, '😂': 12 });
    expect(windows[0]?.swarm).toEqual({ '🔥': 3, '😂': 1 });
    expect(windows[1]?.counts).toEqual({ '🔥': 5 });
  });

  it('moves the viewers of a killed node to another node through the directory, with a snapshot', async () => {
    // A node in its own process (fanout/main.ts), so it can be killed outright.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./main.ts', import.meta.url)), 'subscriber-node'],
      {
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          CLUSTER_ID: 'c2',
          NODE_ID: 'c2-doomed',
          SUBSCRIBER_PORT: '0',
          CLUSTER_PUBLISHER_URL: publishers[1]?.url ?? '',
          DIRECTORY_URL: main.url,
          HEARTBEAT_MS: '300',
        },
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    children.push(child);
    await until(
      () => main.directory.nodes().some((n) => n.node_id === 'c2-doomed'),
      60_000,
      'doomed node registered',
    );
    // Make the doomed node the least loaded for certain: every other node already holds viewers.
    const viewer = createViewer({ directoryUrl: main.url, matchIds: ['A'] });
    viewers.push(viewer);
    await viewer.start();
    expect(viewer.assignment?.node_id).toBe('c2-doomed');
    expect(viewer.windows('A').map((w) => w.window_start)).toEqual([W0, W1]);

    const snapshots: SnapshotMessage[] = [];
    viewer.on('snapshot', (s) => snapshots.push(s));
    child.kill('SIGKILL');
    await until(
      () => viewer.assignment?.node_id !== 'c2-doomed' && snapshots.length > 0,
      30_000,
      'viewer reconnected elsewhere',
    );
    expect(snapshots[0]?.windows.map((w) => w.window_start)).toEqual([W0, W1]);
    expect(snapshots[0]?.windows[0]?.counts).toEqual({ '🔥': 3785, '😂': 12 });

    // Live updates keep flowing on the new node.
    await produce([row('A', W2, '🔥', 7, Date.now())]);
    await until(
      () => viewer.windows('A').some((w) => w.window_start === W2),
      30_000,
      'live update after move',
    );
    expect(viewer.windows('A').find((w) => w.window_start === W2)?.counts).toEqual({ '🔥': 7 });
  });

  it('stops a node on SIGTERM: it leaves the directory first, its viewers move, it exits 0', async () => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./main.ts', import.meta.url)), 'subscriber-node'],
      {
        env: {
          ...process.env,
          LOG_LEVEL: 'warn',
          CLUSTER_ID: 'c1',
          NODE_ID: 'c1-leaving',
          SUBSCRIBER_PORT: '0',
          CLUSTER_PUBLISHER_URL: publishers[0]?.url ?? '',
          DIRECTORY_URL: main.url,
          HEARTBEAT_MS: '300',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(proc);
    let stdout = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    // The node registers with the directory while starting and prints its ready line once started: wait for both
    // (the stdout pipe may deliver the line after the registration is visible).
    await until(
      () => main.directory.nodes().some((n) => n.node_id === 'c1-leaving'),
      60_000,
      'node registered',
    );
    await until(() => stdout.includes('"ready":"subscriber-node"'), 30_000, 'ready line on stdout');
    const viewer = createViewer({ directoryUrl: main.url, matchIds: ['A'] });
    viewers.push(viewer);
    await viewer.start();
    expect(viewer.assignment?.node_id).toBe('c1-leaving');
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(main.directory.nodes().some((n) => n.node_id === 'c1-leaving')).toBe(false);
    await until(() => viewer.assignment?.node_id !== 'c1-leaving', 30_000, 'viewer moved');
    expect(viewer.windows('A').map((w) => w.window_start)).toContain(W0);
  });

  it('rebuilds the recent windows on start by replaying the aggregates topic', async () => {
    const fresh = createMainPublisher(mainConfig(`fanout-main-restarted-${run}`), { logger });
    try {
      await fresh.start();
      const windowsOf = async () =>
        ((await (await fetch(`${fresh.url}/v1/matches/A/windows`)).json()) as { windows: SwarmMessage[] })
          .windows;
      let windows: SwarmMessage[] = [];
      const deadline = Date.now() + 60_000;
      while (windows.length < 3 && Date.now() < deadline) {
        windows = await windowsOf();
        if (windows.length < 3) await new Promise((r) => setTimeout(r, 200));
      }
      expect(windows.map((w) => w.window_start)).toEqual([W0, W1, W2]);
      expect(windows[0]?.counts).toEqual({ '🔥': 3785, '😂': 12 });
      expect(windows[0]?.swarm).toEqual({ '🔥': 3, '😂': 1 });
    } finally {
      await fresh.stop();
    }
  });

  it('brings viewers that stayed connected up to date with the windows a restarted main publisher missed', async () => {
    const n1 = nodes.get('c1-n1');
    if (n1 === undefined) throw new Error('node missing');
    const viewer = await viewerOn(n1, 'K');
    await until(() => main.directory.routes().get('K')?.has('c1') === true, 10_000, 'K routed to c1');
    const t = Date.now();
    await produce([row('K', W0, '🎉', 4, t)]);
    await until(() => viewer.state().get(W0)?.counts['🎉'] === 4, 30_000, 'K W0 delivered');

    // Down: the job goes on emitting. The new process replays these rows on its first join, before any node has
    // reported to it; only the catch-up on the first report naming K gets them to the viewer.
    const port = Number(new URL(main.url).port);
    await main.stop();
    await produce([row('K', W0, '🎉', 9, t + 2000), row('K', W1, '🎉', 3, t + 2000)]);
    main = createMainPublisher(mainConfig(`fanout-main-${run}`, port), { logger });
    await main.start();
    await until(
      () => viewer.state().get(W0)?.counts['🎉'] === 9 && viewer.state().get(W1)?.counts['🎉'] === 3,
      30_000,
      'windows of the downtime delivered',
    );
    expect(viewer.socket.connected).toBe(true);
    expect(viewer.snapshots).toHaveLength(1); // no rejoin: the live stream brought them
  });

  it('serves health, readiness and metrics on every tier', async () => {
    const n1 = nodes.get('c1-n1');
    for (const url of [main.url, publishers[0]?.url, n1?.url]) {
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('fanout_messages_out_total');
      expect(metrics).toContain('fanout_emit_latency_seconds_bucket');
    }
    const bad = await fetch(`${main.url}/v1/assign?match_id=${encodeURIComponent('no spaces')}`);
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toContain('application/problem+json');
  });
});
