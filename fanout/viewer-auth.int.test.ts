/**
 * Viewer identity on real fan-out tiers (main publisher, a cluster publisher on the test stack's Kafka, subscriber
 * nodes): JWT handshakes (every bad-token row of issue #13), the `matches` claim, expiry, the Origin allowlist,
 * a handshake flood from one address, and the node ⇄ cluster publisher link secret. Each refusal leaves the node
 * up (its /health answers and a good viewer still joins), and no refused viewer moved anything on Kafka: the
 * cluster's fan-out topic keeps its end offsets.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { pino } from 'pino';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { mintToken } from '../common/auth.ts';
import { createKafka, ensureTopic, KafkaLogLevel } from '../common/kafka.ts';
import type { Ack } from '../common/socket-events.ts';
import type { SubscriberNodeConfig } from './config.ts';
import {
  type ClusterPublisher,
  createClusterPublisher,
  createMainPublisher,
  createSubscriberNode,
  type MainPublisher,
  type SubscriberNode,
} from './index.ts';

const logger = pino({ level: process.env.FANOUT_TEST_LOG ?? 'silent' });
const run = randomUUID().slice(0, 8);
const topicPrefix = `emoji.fanout.auth-${run}`;
const SECRET = 'viewer-auth-int-test-secret-of-32-bytes+';
const LINK_SECRET = 'link-secret-of-the-auth-int-test';
const ORIGIN = 'http://127.0.0.1:8088';
const enc = (s: string) => new TextEncoder().encode(s);
const nowSec = () => Math.floor(Date.now() / 1000);

let brokers: string;
let main: MainPublisher;
let publisher: ClusterPublisher;
let node: SubscriberNode;
const extraNodes: SubscriberNode[] = [];
const sockets: Socket[] = [];
const kafka = () =>
  createKafka({
    clientId: `auth-it-${run}`,
    brokers: inject('kafkaBrokers'),
    logger,
    logLevel: KafkaLogLevel.NOTHING,
  });
let admin: ReturnType<ReturnType<typeof kafka>['admin']>;

async function until(check: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function nodeConfig(nodeId: string, overrides: Partial<SubscriberNodeConfig> = {}): SubscriberNodeConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    clusterId: 'ca',
    nodeId,
    clusterPublisherUrl: publisher.url,
    directoryUrl: main.url,
    maxRoomsPerSocket: 8,
    slowViewerMs: 10_000,
    maxViewerBufferBytes: 1 << 20,
    heartbeatMs: 300,
    viewerAuth: 'jwt',
    viewerJwt: { jwtSecret: SECRET, audience: ['emostream-viewer'], clockSkewSec: 0 },
    corsOrigins: [ORIGIN],
    handshakeRatePerSec: 20,
    handshakeBurst: 50,
    linkSecret: LINK_SECRET,
    ...overrides,
  };
}

const viewerToken = (sub: string, ttlSec = 300, matches?: string[]) =>
  mintToken({ secret: SECRET, subject: sub, ttlSec, matches, audience: 'emostream-viewer' });

/** Connects; resolves with the socket, or with the connect_error's message and data. */
async function handshake(
  token: string | undefined,
  extra: { origin?: string } = {},
): Promise<{ socket?: Socket; error?: { message: string; data?: { code?: string; message?: string } } }> {
  const socket = connect(node.url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    auth: token === undefined ? {} : { token },
    extraHeaders: extra.origin === undefined ? undefined : { origin: extra.origin },
  });
  sockets.push(socket);
  return new Promise((resolve) => {
    // A connection the node closes without an answer is a refusal too, but one without a reason: the rows check it.
    const timer = setTimeout(() => resolve({ error: { message: 'no answer within 10 s' } }), 10_000);
    // socket.io-client closes the manager before it emits connect_error: give the reason a moment to win.
    socket.io.once('close', (reason) => {
      setTimeout(() => {
        clearTimeout(timer);
        resolve({ error: { message: `closed: ${reason}` } });
      }, 100);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve({ socket });
    });
    socket.once('connect_error', (err: Error & { data?: { code?: string; message?: string } }) => {
      clearTimeout(timer);
      // Resolve first: closing fires the manager's 'close' above, which would resolve with a bare reason.
      resolve({ error: { message: err.message, data: err.data } });
      socket.close();
    });
  });
}

const join = (socket: Socket, matchId: string): Promise<Ack> =>
  socket.timeout(5_000).emitWithAck('join', { match_id: matchId });

async function fanoutOffsets(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(`${topicPrefix}.ca`);
  return offsets.reduce((sum, p) => sum + Number(p.high), 0);
}

async function healthy(n: SubscriberNode = node): Promise<boolean> {
  return (await fetch(`${n.url}/health`)).status === 200;
}

beforeAll(async () => {
  brokers = inject('kafkaBrokers');
  const registryUrl = inject('registryUrl');
  admin = kafka().admin();
  await admin.connect();
  main = createMainPublisher(
    {
      kafkaBrokers: [brokers],
      registryUrl,
      host: '127.0.0.1',
      port: 0,
      aggregatesTopic: `emoji.aggregates.auth-${run}`,
      groupId: `auth-main-${run}`,
      topicPrefix,
      topicPartitions: 1,
      windowsKept: 30,
      maxMatches: 1000,
      replayMs: 0,
      nodeTtlMs: 3_000,
      corsOrigins: [],
    },
    { logger },
  );
  await main.start();
  publisher = createClusterPublisher(
    {
      kafkaBrokers: [brokers],
      registryUrl,
      host: '127.0.0.1',
      port: 0,
      clusterId: 'ca',
      groupId: `auth-ca-${run}`,
      topicPrefix,
      topicPartitions: 1,
      staleMs: 60_000,
      linkSecret: LINK_SECRET,
    },
    { logger },
  );
  await publisher.start();
  await ensureTopic(admin, { topic: `${topicPrefix}.ca`, partitions: 1 });
  node = createSubscriberNode(nodeConfig('ca-n1'), { logger });
  await node.start();
  await until(() => main.ready && publisher.ready && node.ready, 60_000, 'tiers ready');
});

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const n of extraNodes) await n.stop();
  await node?.stop();
  await publisher?.stop();
  await main?.stop();
  await admin?.disconnect();
});

describe('subscriber node with VIEWER_AUTH=jwt', () => {
  it('a valid token joins its matches; a match outside its `matches` claim is refused with the reason', async () => {
    const { socket } = await handshake(await viewerToken('viewer-1', 300, ['m-allowed']));
    if (socket === undefined) throw new Error('valid token refused');
    expect(await join(socket, 'm-allowed')).toMatchObject({ ok: true, match_id: 'm-allowed' });
    expect(await join(socket, 'm-other')).toEqual({
      ok: false,
      error: { code: 'forbidden', message: 'your token does not allow match m-other' },
    });
    // A token without the claim may join any match.
    const free = await handshake(await viewerToken('viewer-2'));
    expect(await join(free.socket as Socket, 'm-other')).toMatchObject({ ok: true });
  });

  it('refuses every bad token at the handshake with a reason; the node stays up and nothing moves on Kafka', async () => {
    const before = await fanoutOffsets();
    const good = await viewerToken('viewer-3');
    const [h, , s] = good.split('.');
    const forgedBody = Buffer.from(
      JSON.stringify({ sub: 'admin', aud: 'emostream-viewer', exp: nowSec() + 3600 }),
    ).toString('base64url');
    const base = () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('viewer-3')
        .setAudience('emostream-viewer');
    const rows: [string, string | undefined, RegExp][] = [
      ['no token', undefined, /needs a token/],
      [
        'alg none',
        new UnsecuredJWT({ sub: 'v', aud: 'emostream-viewer' }).setExpirationTime(nowSec() + 60).encode(),
        /algorithm/,
      ],
      ['forged signature', `${h}.${forgedBody}.${s}`, /signature/],
      [
        'expired',
        await base()
          .setExpirationTime(nowSec() - 5)
          .sign(enc(SECRET)),
        /expired/,
      ],
      [
        'not yet valid',
        await base()
          .setNotBefore(nowSec() + 600)
          .setExpirationTime(nowSec() + 900)
          .sign(enc(SECRET)),
        /not yet valid/,
      ],
      [
        'wrong audience',
        await base()
          .setAudience('emostream-ingest')
          .setExpirationTime(nowSec() + 60)
          .sign(enc(SECRET)),
        /audience/,
      ],
      [
        'sub not a user id',
        await base()
          .setSubject('a b')
          .setExpirationTime(nowSec() + 60)
          .sign(enc(SECRET)),
        /sub is not a user id/,
      ],
      ['8 kB token', `${good}${'A'.repeat(8192 - good.length)}`, /too long/],
    ];
    for (const [name, token, reason] of rows) {
      const r = await handshake(token);
      expect.soft(r.socket, name).toBeUndefined();
      expect.soft(r.error?.message, name).toBe('unauthorized');
      expect.soft(r.error?.data?.message, name).toMatch(reason);
    }
    expect(await healthy()).toBe(true);
    const ok = await handshake(good);
    expect(await join(ok.socket as Socket, 'm-after')).toMatchObject({ ok: true });
    expect(await fanoutOffsets()).toBe(before);
  });

  it('disconnects at token expiry, telling the viewer why', async () => {
    const { socket } = await handshake(await viewerToken('viewer-4', 2));
    if (socket === undefined) throw new Error('refused');
    expect(await join(socket, 'm-expiry')).toMatchObject({ ok: true });
    const expired = new Promise<{ code: string; message: string }>((resolve) =>
      socket.once('session_expired', resolve),
    );
    const disconnected = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    const started = Date.now();
    expect(await expired).toEqual({ code: 'token_expired', message: 'your token expired; sign in again' });
    expect(await disconnected).toBe('io server disconnect');
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(await healthy()).toBe(true);
  });

  it('accepts WebSockets only from allowed page origins (CORS_ORIGINS); clients without Origin pass', async () => {
    const token = await viewerToken('viewer-5');
    const evil = await handshake(token, { origin: 'https://evil.example' });
    expect(evil.socket).toBeUndefined();
    expect(evil.error?.data?.message ?? evil.error?.message).toMatch(/origin|websocket error/i);
    const page = await handshake(token, { origin: ORIGIN });
    expect(page.socket?.connected).toBe(true);
  });

  it('1,000 handshakes in a second from one address: refused cheaply, the node stays up, counted', async () => {
    const flooded = createSubscriberNode(nodeConfig('ca-flood'), { logger });
    extraNodes.push(flooded);
    await flooded.start();
    await until(() => flooded.ready, 30_000, 'flood node ready');
    const wsUrl = `${flooded.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
    let opened = 0;
    let refused = 0;
    const attempts: Promise<void>[] = [];
    const started = performance.now();
    for (let batch = 0; batch < 10; batch++) {
      for (let i = 0; i < 100; i++) {
        attempts.push(
          new Promise<void>((resolve) => {
            const ws = new WebSocket(wsUrl);
            ws.on('open', () => {
              opened++;
              ws.close();
              resolve();
            });
            // engine.io refuses a WebSocket upgrade in allowRequest with 400 and closes.
            ws.on('unexpected-response', (_req, res) => {
              if (res.statusCode === 400) refused++;
              ws.terminate();
              resolve();
            });
            ws.on('error', () => resolve());
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(attempts);
    const seconds = (performance.now() - started) / 1000;
    // Burst 50 plus 20/s over the run: the rest is refused before a session exists.
    expect(opened + refused).toBe(1000);
    expect(opened).toBeLessThanOrEqual(50 + Math.ceil(20 * seconds) + 5);
    expect(refused).toBeGreaterThan(800);
    expect(await healthy(flooded)).toBe(true);
    const metrics = await (await fetch(`${flooded.url}/metrics`)).text();
    expect(metrics).toMatch(
      new RegExp(`fanout_refused_total\\{[^}]*code="handshake_rate_limited"[^}]*\\} ${refused}`),
    );
    // Once the bucket refilled, a viewer gets in again.
    await new Promise((r) => setTimeout(r, 1_500));
    const socket = connect(flooded.url, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      auth: { token: await viewerToken('viewer-6') },
    });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    expect(await join(socket, 'm-flood')).toMatchObject({ ok: true });
  });

  it('the cluster publisher refuses a node without FANOUT_LINK_SECRET; with it the node becomes ready', async () => {
    const outsider = createSubscriberNode(nodeConfig('ca-outsider', { linkSecret: undefined }), { logger });
    extraNodes.push(outsider);
    await outsider.start();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(outsider.ready).toBe(false);
    const metrics = await (await fetch(`${publisher.url}/metrics`)).text();
    expect(metrics).toMatch(/fanout_refused_total\{[^}]*code="bad_link_secret"[^}]*\} [1-9]/);
    const wrong = createSubscriberNode(nodeConfig('ca-wrong', { linkSecret: 'not-the-link-secret-at-all' }), {
      logger,
    });
    extraNodes.push(wrong);
    await wrong.start();
    const member = createSubscriberNode(nodeConfig('ca-member'), { logger });
    extraNodes.push(member);
    await member.start();
    await until(() => member.ready, 30_000, 'node with the secret ready');
    expect(wrong.ready).toBe(false);
    expect(outsider.ready).toBe(false);
  });
});
