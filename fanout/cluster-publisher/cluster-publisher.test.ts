/**
 * A cluster publisher fed in-process (a {@link WindowFeed}, no Kafka) and the node side of the hop, the real
 * Socket.IO {@link socketPublisherLink}: subscriptions decide which windows a node gets.
 */
import { pino } from 'pino';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SwarmWindow } from '../../common/socket-events.ts';
import { socketPublisherLink } from '../subscriber-node/publisher-link.ts';
import { type ClusterPublisher, createClusterPublisher } from './cluster-publisher.ts';
import { WindowFeed } from './window-feed.ts';

const logger = pino({ level: 'silent' });
const feed = new WindowFeed();
let publisher: ClusterPublisher;

function window(matchId: string, windowStart: number): SwarmWindow {
  const now = Date.now();
  return {
    match_id: matchId,
    window_start: windowStart,
    window_end: windowStart + 2000,
    counts: { '🔥': 1 },
    swarm: { '🔥': 1 },
    emitted_at: now,
    routed_at: now,
    aggregated_at: now,
  };
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
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
    { logger, windows: feed },
  );
  await publisher.start();
});

afterAll(async () => {
  await publisher?.stop();
});

describe('cluster publisher over a window feed, with the Socket.IO publisher link', () => {
  it('emits a window to the nodes subscribed to its match only, until they unsubscribe', async () => {
    const received: unknown[] = [];
    let connects = 0;
    const link = socketPublisherLink({ url: publisher.url, nodeId: 'node-1', logger })({
      onSwarm: (raw) => received.push(raw),
      onConnect: () => connects++,
    });
    try {
      await until(() => link.connected && publisher.nodeCount === 1);
      expect(connects).toBe(1);
      expect(publisher.ready).toBe(true);
      await link.subscribe(['S', 'T']);
      feed.push(window('S', 0));
      feed.push(window('U', 0)); // nobody subscribed
      feed.push(window('T', 0));
      await until(() => received.length === 2);
      expect(received).toMatchObject([{ match_id: 'S', window_start: 0 }, { match_id: 'T' }]);
      expect((received[0] as { sent_at: number }).sent_at).toBeGreaterThan(0);

      link.unsubscribe(['S']);
      await link.subscribe(['T']); // acknowledged after the unsubscribe: the publisher handles a socket's events in order
      feed.push(window('S', 2000));
      feed.push(window('T', 2000));
      await until(() => received.length === 3);
      // One socket keeps order: had S still been subscribed, it would have arrived before T.
      expect(received[2]).toMatchObject({ match_id: 'T', window_start: 2000 });
    } finally {
      link.close();
    }
  });

  it('refuses a handshake without a node id, with a machine-readable reason', async () => {
    const socket = connect(publisher.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      const err = await new Promise<Error & { data?: unknown }>((resolve) =>
        socket.once('connect_error', resolve),
      );
      expect(err.message).toMatch(/node_id/);
      expect(err.data).toEqual({ code: 'invalid_payload' });
    } finally {
      socket.close();
    }
  });

  it('serves one publisher per feed', () => {
    expect(() => feed.attach(() => {})).toThrow(/already serves/);
    expect(() => new WindowFeed().push(window('S', 0))).toThrow(/no started cluster publisher/);
  });
});
