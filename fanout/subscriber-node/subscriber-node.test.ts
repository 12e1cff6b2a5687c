/**
 * Subscriber nodes with real socket.io-client viewers, and the node's two upstreams faked at their interfaces: an
 * in-memory cluster publisher ({@link FakePublisher}) and an in-memory directory ({@link InMemoryDirectory}).
 * Each test builds its own nodes.
 */
import { Agent } from 'node:http';
import { createConnection, type Socket as TcpSocket } from 'node:net';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ack, SnapshotMessage, SwarmMessage } from '../../common/socket-events.ts';
import type { SubscriberNodeConfig } from '../config.ts';
import { InMemoryDirectory } from './directory-client.ts';
import { MAX_MATCH_VIEWER_LABELS, OTHER_MATCHES } from './match-viewers.ts';
import { FakePublisher } from './publisher-link.ts';
import { createSubscriberNode, type SubscriberNode } from './subscriber-node.ts';

const logger = pino({ level: 'silent' });
const T0 = 1_760_000_000_000;

const running: SubscriberNode[] = [];
const viewers: Socket[] = [];

afterEach(async () => {
  for (const v of viewers.splice(0)) v.close();
  for (const node of running.splice(0)) await node.stop();
});

function message(matchId: string, i: number, counts: Record<string, number>): SwarmMessage {
  const swarm = Object.fromEntries(
    Object.entries(counts).map(([e, c]) => [e, c > 1000 ? Math.floor(c / 1000) : 1]),
  );
  const now = Date.now();
  return {
    match_id: matchId,
    window_start: T0 + i * 2000,
    window_end: T0 + i * 2000 + 2000,
    counts,
    swarm,
    emitted_at: now,
    routed_at: now,
    aggregated_at: now,
    sent_at: now,
  };
}

async function startNode(
  publisher: FakePublisher,
  directory: InMemoryDirectory,
  overrides: Partial<SubscriberNodeConfig> = {},
): Promise<SubscriberNode> {
  const node = createSubscriberNode(
    {
      host: '127.0.0.1',
      port: 0,
      clusterId: 'c1',
      nodeId: `node-${Math.random().toString(36).slice(2, 8)}`,
      clusterPublisherUrl: 'unused: the publisher is faked',
      directoryUrl: 'unused: the directory is faked',
      maxRoomsPerSocket: 3,
      slowViewerMs: 500,
      maxViewerBufferBytes: 256 * 1024,
      heartbeatMs: 200,
      ...overrides,
    },
    { logger, publisher: publisher.connect, directory },
  );
  running.push(node);
  await node.start();
  await until(() => node.ready);
  return node;
}

async function viewer(url: string, options: { auth?: Record<string, string>; agent?: Agent } = {}) {
  const socket = connect(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: options.auth ?? {},
    agent: options.agent as unknown as string, // socket.io-client types `agent` as string | boolean; ws takes an Agent
  });
  viewers.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

const join = (v: Socket, matchId: unknown): Promise<Ack> =>
  v.timeout(2_000).emitWithAck('join', { match_id: matchId });

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

async function refusals(node: SubscriberNode, code: string): Promise<number> {
  return (await node.metrics.refused.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
}

describe('subscriber node: join and leave', () => {
  it('refuses malformed payloads and unknown events with an error ack, and stays usable', async () => {
    const node = await startNode(new FakePublisher(), new InMemoryDirectory());
    const v = await viewer(node.url);
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
    expect(await join(v, 'A')).toEqual({ ok: true, match_id: 'A', rooms: 1 });
    expect(v.connected).toBe(true);
  });

  it('bounds the rooms of one socket', async () => {
    const node = await startNode(new FakePublisher(), new InMemoryDirectory());
    const v = await viewer(node.url);
    for (const id of ['m1', 'm2', 'm3']) expect(await join(v, id)).toMatchObject({ ok: true });
    expect(await join(v, 'm4')).toMatchObject({ ok: false, error: { code: 'too_many_rooms' } });
    // Re-joining a room already held is not a new room; leaving frees one.
    expect(await join(v, 'm1')).toMatchObject({ ok: true, rooms: 3 });
    expect(await v.timeout(2_000).emitWithAck('leave', { match_id: 'm1' })).toMatchObject({
      ok: true,
      rooms: 2,
    });
    expect(await join(v, 'm4')).toMatchObject({ ok: true, rooms: 3 });
  });

  it('rate-limits each connection (a burst of 20 requests, then 20/s) and not its neighbours', async () => {
    const node = await startNode(new FakePublisher(), new InMemoryDirectory());
    const noisy = await viewer(node.url);
    const quiet = await viewer(node.url);
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => noisy.timeout(2_000).emitWithAck('leave', { match_id: 'A' })),
    );
    const limited = answers.filter((a: Ack) => !a.ok && a.error.code === 'rate_limited');
    // 10 unless the shared machine was slow enough for a token to come back during the burst.
    expect(limited.length).toBeGreaterThanOrEqual(8);
    expect(answers.slice(0, 20).every((a: Ack) => !a.ok && a.error.code === 'not_joined')).toBe(true);
    expect(await join(quiet, 'A')).toMatchObject({ ok: true });
    expect(await refusals(node, 'rate_limited')).toBe(limited.length);
  });

  it('checks the handshake token when configured', async () => {
    const node = await startNode(new FakePublisher(), new InMemoryDirectory(), {
      viewerToken: 'secret-token',
    });
    await expect(viewer(node.url)).rejects.toThrow(/unauthorized/);
    await expect(viewer(node.url, { auth: { token: 'wrong-token!' } })).rejects.toThrow(/unauthorized/);
    const v = await viewer(node.url, { auth: { token: 'secret-token' } });
    expect(v.connected).toBe(true);
    expect(await refusals(node, 'bad_token')).toBe(2);
  });
});

describe('subscriber node: viewers per match', () => {
  async function matchViewers(node: SubscriberNode): Promise<Record<string, number>> {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    return Object.fromEntries(
      [...text.matchAll(/^fanout_match_viewers\{match_id="([^"]*)"[^}]*\} (\d+)$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
  }

  it('labels only watched matches, drops a label when its last viewer leaves, caps the labels', async () => {
    const node = await startNode(new FakePublisher(), new InMemoryDirectory());
    const a = await viewer(node.url);
    const b = await viewer(node.url);
    await join(a, 'M1');
    await join(b, 'M1');
    await join(b, 'M2');
    expect(await matchViewers(node)).toEqual({ M1: 2, M2: 1 });
    await b.timeout(2_000).emitWithAck('leave', { match_id: 'M2' });
    expect(await matchViewers(node)).toEqual({ M1: 2 }); // at once, not after the subscription's grace
    a.close();
    await until(() => node.viewerCount === 1);
    expect(await matchViewers(node)).toEqual({ M1: 1 });

    // One viewer each on more matches than the cap: the busiest (M1, 2 viewers) is named, the overflow is one
    // series.
    await join(await viewer(node.url), 'M1');
    const flood = await Promise.all(
      Array.from({ length: MAX_MATCH_VIEWER_LABELS + 5 }, () => viewer(node.url)),
    );
    await Promise.all(flood.map((v, i) => join(v, `F${i}`)));
    const series = await matchViewers(node);
    expect(Object.keys(series)).toHaveLength(MAX_MATCH_VIEWER_LABELS + 1);
    expect(series.M1).toBe(2);
    expect(Object.values(series).reduce((x, y) => x + y, 0)).toBe(MAX_MATCH_VIEWER_LABELS + 7);
    expect(series[OTHER_MATCHES]).toBeGreaterThan(0);
  });
});

describe('subscriber node: snapshot and relay', () => {
  it('subscribes, reports, then fetches the snapshot; relays only newer states of joined matches', async () => {
    const publisher = new FakePublisher();
    const directory = new InMemoryDirectory();
    const first = message('S', 0, { '🔥': 3785 });
    directory.matchWindows.set('S', [first, { match_id: 'S', window_start: 'garbage' }]);
    const nodeA = await startNode(publisher, directory);
    const nodeB = await startNode(publisher, directory);
    // The order that keeps every window between the snapshot and the live stream: subscribed and reported first.
    const seenAtFetch: { subscribers: number; reported: boolean }[] = [];
    const windows = directory.windows.bind(directory);
    directory.windows = async (matchId) => {
      const reported = directory.nodes.get(nodeA.nodeId)?.matches.includes(matchId) === true;
      seenAtFetch.push({ subscribers: publisher.subscribers(matchId), reported });
      return windows(matchId);
    };

    const onA = await viewer(nodeA.url);
    const onB = await viewer(nodeB.url);
    const other = await viewer(nodeA.url);
    const snapshots = collect<SnapshotMessage>(onA, 'snapshot');
    const swarmsA = collect<SwarmMessage>(onA, 'swarm');
    const swarmsB = collect<SwarmMessage>(onB, 'swarm');
    const swarmsOther = collect<SwarmMessage>(other, 'swarm');
    await join(onA, 'S');
    expect(seenAtFetch).toEqual([{ subscribers: 1, reported: true }]);
    await join(onB, 'S');
    await join(other, 'T');
    expect(snapshots).toEqual([{ match_id: 'S', windows: [first] }]);
    expect(directory.nodes.get(nodeB.nodeId)?.matches).toEqual(['S']);

    publisher.publish(message('S', 1, { '😂': 12, '🔥': 2500 }));
    publisher.publish(message('T', 1, { '👏': 1 }));
    publisher.publish(message('U', 1, { '👏': 1 })); // nobody joined U: not even delivered
    publisher.publishRaw('S', { match_id: 'S', counts: 'lots' });
    await until(() => swarmsA.length === 1 && swarmsB.length === 1 && swarmsOther.length === 1);
    expect(swarmsA[0]?.counts).toEqual({ '😂': 12, '🔥': 2500 });
    expect(swarmsA[0]?.swarm).toEqual({ '😂': 1, '🔥': 2 });
    expect(swarmsB[0]?.counts).toEqual({ '😂': 12, '🔥': 2500 });
    expect(swarmsOther.map((m) => m.match_id)).toEqual(['T']);
    expect(await refusals(nodeA, 'invalid_swarm')).toBe(1);

    // A repeated state (re-stamped by a later hop) is not relayed a second time.
    publisher.publish({ ...(swarmsA[0] as SwarmMessage), sent_at: Date.now() + 1 });
    publisher.publish(message('S', 2, { '🔥': 1 }));
    await until(() => swarmsA.length === 2);
    expect(swarmsA.map((m) => m.window_start)).toEqual([T0 + 2000, T0 + 4000]);

    // A late joiner gets every recent window in its snapshot.
    const late = await viewer(nodeA.url);
    const lateSnapshots = collect<SnapshotMessage>(late, 'snapshot');
    await join(late, 'S');
    expect(lateSnapshots[0]?.windows.map((w) => w.window_start)).toEqual([T0, T0 + 2000, T0 + 4000]);
  });

  it('stamps its broadcast time on what it relays, and relays messages of publishers without the trace', async () => {
    const publisher = new FakePublisher();
    const node = await startNode(publisher, new InMemoryDirectory());
    const v = await viewer(node.url);
    const swarms = collect<SwarmMessage>(v, 'swarm');
    await join(v, 'S');
    const traced = { ...message('S', 1, { '🔥': 3 }), aggregated_at: T0 + 1, relayed_at: 7 };
    const before = Date.now();
    publisher.publish(traced);
    // An older publisher's message: no aggregated_at, no relayed_at.
    const { aggregated_at: _, ...untraced } = message('S', 2, { '🔥': 1 });
    publisher.publishRaw('S', untraced);
    await until(() => swarms.length === 2);
    const [first, second] = swarms;
    // The upstream stamps pass through untouched; a relayed_at from upstream is the node's own, not trusted.
    expect(first).toMatchObject({
      aggregated_at: T0 + 1,
      sent_at: traced.sent_at,
      routed_at: traced.routed_at,
    });
    expect(first?.relayed_at).toBeGreaterThanOrEqual(before);
    expect(first?.relayed_at).toBeLessThanOrEqual(Date.now());
    expect(second).toMatchObject({ window_start: T0 + 4000, aggregated_at: null });
    expect(second?.relayed_at).toBeGreaterThanOrEqual(before);
  });

  it('still serves viewers when the snapshot fetch fails, and deregisters on stop', async () => {
    const publisher = new FakePublisher();
    const directory = new InMemoryDirectory();
    const node = await startNode(publisher, directory);
    expect(directory.nodes.has(node.nodeId)).toBe(true);
    const v = await viewer(node.url);
    const snapshots = collect<SnapshotMessage>(v, 'snapshot');
    const swarms = collect<SwarmMessage>(v, 'swarm');
    directory.unavailable = true;
    expect(await join(v, 'S')).toMatchObject({ ok: true });
    expect(snapshots).toEqual([{ match_id: 'S', windows: [] }]);
    publisher.publish(message('S', 0, { '🔥': 1 }));
    await until(() => swarms.length === 1);
    directory.unavailable = false;
    await node.stop();
    expect(directory.nodes.has(node.nodeId)).toBe(false);
    expect(publisher.linkCount).toBe(0);
  });

  // Heavy on purpose (about 15 MB to each viewer): a paused viewer is only found stalled once the kernel's socket
  // buffers are full. The generous bounds are for a loaded machine; unloaded the test takes a few seconds.
  it('disconnects a viewer that stops reading, without delaying the others', {
    timeout: 90_000,
  }, async () => {
    const publisher = new FakePublisher();
    const node = await startNode(publisher, new InMemoryDirectory());
    // The slow viewer's TCP connection is made by this agent, so the test holds it and can stop reading it.
    const tapped: TcpSocket[] = [];
    const agent = new Agent();
    agent.createConnection = (options) => {
      const socket = createConnection(options as Parameters<typeof createConnection>[0]);
      tapped.push(socket);
      return socket;
    };
    const slow = await viewer(node.url, { agent });
    const fast = await viewer(node.url);
    await join(slow, 'F');
    await join(fast, 'F');
    const fastSeen = collect<SwarmMessage>(fast, 'swarm');
    expect(tapped).toHaveLength(1);
    tapped[0]?.pause(); // its kernel buffers fill, then the node's transport to it stops being writable
    const bigCounts = Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`e${i}`, i + 1]));
    const total = 100;
    for (let i = 0; i < total; i++) {
      publisher.publish(message('F', i, bigCounts));
      await new Promise((r) => setTimeout(r, 5));
    }
    await until(() => fastSeen.length === total, 60_000);
    expect(fastSeen.map((m) => m.window_start)).toEqual(
      Array.from({ length: total }, (_, i) => T0 + i * 2000),
    );
    // The node drops the stalled viewer once it has been unwritable past slowViewerMs (500 ms in this test).
    const deadline = Date.now() + 5_000;
    while ((await refusals(node, 'slow_viewer')) < 1 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await refusals(node, 'slow_viewer')).toBe(1);
    expect(await refusals(node, 'marked_slow')).toBeGreaterThanOrEqual(1);
    await until(() => node.viewerCount === 1); // the slow viewer's connection is gone on the node's side
    expect(fast.connected).toBe(true);
  });
});
