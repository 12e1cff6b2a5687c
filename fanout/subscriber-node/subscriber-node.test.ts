/**
 * The Socket.IO hops in-process, without Kafka: a directory (the main publisher's routes over a store the test
 * fills), a cluster publisher fed through `publish`, two subscriber nodes and real socket.io-client viewers.
 */
import type { Server } from 'node:http';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ack, SnapshotMessage, SwarmMessage, SwarmWindow } from '../../common/socket-events.ts';
import { type ClusterPublisher, createClusterPublisher } from '../cluster-publisher/cluster-publisher.ts';
import { closeServer, createFanoutMetrics, createHttpApp, listen } from '../http-server.ts';
import { Directory } from '../main-publisher/directory.ts';
import { mountDirectoryRoutes } from '../main-publisher/directory-routes.ts';
import { WindowStore } from '../main-publisher/window-store.ts';
import { createSubscriberNode, type SubscriberNode } from './subscriber-node.ts';

const logger = pino({ level: 'silent' });
const T0 = 1_760_000_000_000;

let directoryServer: Server;
let directoryUrl: string;
const directory = new Directory();
const store = new WindowStore();
let publisher: ClusterPublisher;
let nodeA: SubscriberNode;
let nodeB: SubscriberNode;
const viewers: Socket[] = [];

function window(matchId: string, i: number, counts: Record<string, number>): SwarmWindow {
  const swarm = Object.fromEntries(
    Object.entries(counts).map(([e, c]) => [e, c > 1000 ? Math.floor(c / 1000) : 1]),
  );
  return {
    match_id: matchId,
    window_start: T0 + i * 2000,
    window_end: T0 + i * 2000 + 2000,
    counts,
    swarm,
    emitted_at: Date.now(),
    routed_at: Date.now(),
  };
}

async function viewer(url: string, auth: Record<string, string> = {}): Promise<Socket> {
  const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
  viewers.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

function collect<T>(socket: Socket, event: string): T[] {
  const seen: T[] = [];
  socket.on(event, (payload: T) => seen.push(payload));
  return seen;
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function nodeConfig(overrides: Partial<Parameters<typeof createSubscriberNode>[0]> = {}) {
  return {
    host: '127.0.0.1',
    port: 0,
    clusterId: 'c1',
    nodeId: `node-${Math.random().toString(36).slice(2, 8)}`,
    clusterPublisherUrl: publisher.url,
    directoryUrl,
    maxRoomsPerSocket: 3,
    slowViewerMs: 500,
    maxViewerBufferBytes: 256 * 1024,
    heartbeatMs: 200,
    ...overrides,
  };
}

beforeAll(async () => {
  const metrics = createFanoutMetrics('directory-test', 'unused');
  const app = createHttpApp(
    metrics,
    () => true,
    (a) =>
      mountDirectoryRoutes(a, {
        directory,
        snapshot: (id) => store.snapshot(id).map((w) => ({ ...w, routed_at: 0, sent_at: 0 })),
      }),
  );
  const bound = await listen(app, '127.0.0.1', 0);
  directoryServer = bound.server;
  directoryUrl = `http://127.0.0.1:${bound.port}`;
  publisher = createClusterPublisher(
    {
      kafkaBrokers: [],
      registryUrl: '',
      host: '127.0.0.1',
      port: 0,
      clusterId: 'c1',
      groupId: 'unused',
      topicPrefix: 'unused',
      topicPartitions: 1,
      staleMs: 30_000,
    },
    { logger, consumeKafka: false },
  );
  await publisher.start();
  nodeA = createSubscriberNode(nodeConfig(), { logger });
  nodeB = createSubscriberNode(nodeConfig({ viewerToken: 'secret-token' }), { logger });
  await nodeA.start();
  await nodeB.start();
  await until(() => nodeA.ready && nodeB.ready && publisher.nodeCount === 2);
});

afterAll(async () => {
  for (const v of viewers) v.close();
  await nodeA?.stop();
  await nodeB?.stop();
  await publisher?.stop();
  if (directoryServer !== undefined) await closeServer(directoryServer);
});

describe('subscriber node: join and leave', () => {
  it('refuses malformed payloads and unknown events with an error ack, and stays usable', async () => {
    const v = await viewer(nodeA.url);
    const bad: unknown[] = [
      42,
      null,
      'A',
      {},
      { match_id: '' },
      { match_id: 'a b' },
      { match_id: 'A', x: 1 },
    ];
    for (const payload of bad) {
      const answer: Ack = await v.timeout(2_000).emitWithAck('join', payload);
      expect(answer).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    }
    const unknown = await v.timeout(2_000).emitWithAck('explode', { match_id: 'A' });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_event' } });
    v.emit('explode'); // no ack: ignored
    v.emit('join', { match_id: 'A' }); // no ack callback: served without one
    const leaveUnknown: Ack = await v.timeout(2_000).emitWithAck('leave', { match_id: 'Z' });
    expect(leaveUnknown).toMatchObject({ ok: false, error: { code: 'not_joined' } });
    const ok: Ack = await v.timeout(2_000).emitWithAck('join', { match_id: 'A' });
    expect(ok).toEqual({ ok: true, match_id: 'A', rooms: 1 });
    expect(v.connected).toBe(true);
  });

  it('bounds the rooms of one socket', async () => {
    const v = await viewer(nodeA.url);
    for (const id of ['m1', 'm2', 'm3']) {
      expect(await v.timeout(2_000).emitWithAck('join', { match_id: id })).toMatchObject({ ok: true });
    }
    expect(await v.timeout(2_000).emitWithAck('join', { match_id: 'm4' })).toMatchObject({
      ok: false,
      error: { code: 'too_many_rooms' },
    });
    // Re-joining a room already held is not a new room; leaving frees one.
    expect(await v.timeout(2_000).emitWithAck('join', { match_id: 'm1' })).toMatchObject({
      ok: true,
      rooms: 3,
    });
    expect(await v.timeout(2_000).emitWithAck('leave', { match_id: 'm1' })).toMatchObject({
      ok: true,
      rooms: 2,
    });
    expect(await v.timeout(2_000).emitWithAck('join', { match_id: 'm4' })).toMatchObject({
      ok: true,
      rooms: 3,
    });
  });

  it('checks the handshake token when configured', async () => {
    await expect(viewer(nodeB.url)).rejects.toThrow(/unauthorized/);
    await expect(viewer(nodeB.url, { token: 'wrong-token!' })).rejects.toThrow(/unauthorized/);
    const v = await viewer(nodeB.url, { token: 'secret-token' });
    expect(v.connected).toBe(true);
  });
});

describe('subscriber node: snapshot and relay', () => {
  it('sends a snapshot on join, then relays only the joined match, across nodes', async () => {
    store.apply([
      {
        match_id: 'S',
        window_start: T0,
        window_end: T0 + 2000,
        emoji: '🔥',
        count: 3785,
        swarm: 3,
        emitted_at: T0 + 2100,
      },
    ]);
    const onA = await viewer(nodeA.url);
    const onB = await viewer(nodeB.url, { token: 'secret-token' });
    const other = await viewer(nodeA.url);
    const snapshots = collect<SnapshotMessage>(onA, 'snapshot');
    const swarmsA = collect<SwarmMessage>(onA, 'swarm');
    const swarmsB = collect<SwarmMessage>(onB, 'swarm');
    const swarmsOther = collect<SwarmMessage>(other, 'swarm');
    await onA.timeout(2_000).emitWithAck('join', { match_id: 'S' });
    await onB.timeout(2_000).emitWithAck('join', { match_id: 'S' });
    await other.timeout(2_000).emitWithAck('join', { match_id: 'T' });
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]?.windows.map((w) => w.counts)).toEqual([{ '🔥': 3785 }]);
    expect(snapshots[0]?.windows[0]?.swarm).toEqual({ '🔥': 3 });
    // Both nodes reported S to the directory (that is what routes S to this cluster).
    await until(() => directory.routes().get('S')?.has('c1') === true);

    publisher.publish(window('S', 1, { '😂': 12, '🔥': 2500 }));
    publisher.publish(window('T', 1, { '👏': 1 }));
    await until(() => swarmsA.length === 1 && swarmsB.length === 1 && swarmsOther.length === 1);
    expect(swarmsA[0]?.counts).toEqual({ '😂': 12, '🔥': 2500 });
    expect(swarmsA[0]?.swarm).toEqual({ '😂': 1, '🔥': 2 });
    expect(swarmsB[0]?.counts).toEqual({ '😂': 12, '🔥': 2500 });
    expect(swarmsOther.map((m) => m.match_id)).toEqual(['T']);

    // A repeated message (same window state) is not relayed a second time.
    const repeat = window('S', 1, { '😂': 12, '🔥': 2500 });
    repeat.emitted_at = swarmsA[0]?.emitted_at ?? 0;
    publisher.publish(repeat);
    publisher.publish(window('S', 2, { '🔥': 1 }));
    await until(() => swarmsA.length === 2);
    expect(swarmsA.map((m) => m.window_start)).toEqual([T0 + 2000, T0 + 4000]);

    // A late joiner gets every recent window in its snapshot.
    const late = await viewer(nodeA.url);
    const lateSnapshots = collect<SnapshotMessage>(late, 'snapshot');
    await late.timeout(2_000).emitWithAck('join', { match_id: 'S' });
    expect(lateSnapshots[0]?.windows.map((w) => w.window_start)).toEqual([T0, T0 + 2000, T0 + 4000]);
  });

  it('disconnects a viewer that stops reading, without delaying the others', {
    timeout: 20_000,
  }, async () => {
    const slow = await viewer(nodeA.url);
    const fast = await viewer(nodeA.url);
    await slow.timeout(2_000).emitWithAck('join', { match_id: 'F' });
    await fast.timeout(2_000).emitWithAck('join', { match_id: 'F' });
    const fastSeen = collect<SwarmMessage>(fast, 'swarm');
    // Stop reading the slow viewer's TCP socket: its kernel buffers fill, then its transport stops being writable.
    const engine = slow.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
    engine.transport.ws._socket.pause();
    const bigCounts = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`e${i}`, i + 1]));
    const total = 100;
    for (let i = 0; i < total; i++) {
      publisher.publish(window('F', i, bigCounts));
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => fastSeen.length === total, 10_000);
    expect(fastSeen.map((m) => m.window_start)).toEqual(
      Array.from({ length: total }, (_, i) => T0 + i * 2000),
    );
    // The node drops the stalled viewer once it has been unwritable past slowViewerMs (500 ms in this test).
    const slowDrops = async () =>
      (await nodeA.metrics.refused.get()).values.find((v) => v.labels.code === 'slow_viewer')?.value ?? 0;
    const deadline = Date.now() + 5_000;
    while ((await slowDrops()) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await slowDrops()).toBe(1);
    expect(fast.connected).toBe(true);
  });
});
