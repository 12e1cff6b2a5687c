/**
 * The whole pipeline in containers: known reactions POSTed to ingest → Kafka → the emoji-swarm Spark SQL job →
 * fan-out main publisher → 2 cluster publishers → 2 subscriber nodes each → viewers in match rooms, who must end
 * up with the exact counts and swarms of their own match and nothing of the other. Kafka and the registry come
 * from the project's globalSetup; Spark, ingest and every fan-out tier run in containers started here.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureTopic } from '../../common/kafka.ts';
import type { SwarmMessage } from '../../common/socket-events.ts';
import { createViewer, type Viewer } from '../../fanout/index.ts';
import { ContainerStack } from './container-stack.ts';
import { kafkaClient } from './modules/kafka-container.ts';
import {
  ClusterPublisherContainer,
  IngestContainer,
  MainPublisherContainer,
  type StartedNodeServiceContainer,
  SubscriberNodeContainer,
} from './modules/node-service-container.ts';
import { SparkJobContainer } from './modules/spark-job-container.ts';

const brokers = inject('containerKafkaBrokers');
const registryUrl = inject('containerRegistryUrl');
const run = randomUUID().slice(0, 8);
const topics = {
  reactions: `containers.pipeline.reactions.${run}`,
  aggregates: `containers.pipeline.aggregates.${run}`,
};
const fanoutPrefix = `containers.pipeline.fanout.${run}`;
const CLUSTERS = ['cluster-a', 'cluster-b'] as const;
const NODES_PER_CLUSTER = 2;

/** What is sent, per match and emoji; the expected swarm follows the scaling rule with divisor 1000. */
const SENT: Record<string, Record<string, number>> = {
  [`final-${run}`]: { '🔥': 3785, '👏': 999 },
  [`semi-${run}`]: { '❤️': 2000 },
};
const swarmOf = (count: number) => (count <= 1000 ? 1 : Math.floor(count / 1000));

const stack = new ContainerStack();
const viewers: { matchId: string; viewer: Viewer; messages: SwarmMessage[] }[] = [];
let ingest: StartedNodeServiceContainer;
let main: StartedNodeServiceContainer;

beforeAll(async () => {
  await ensureTopic(kafkaClient(brokers), [
    { topic: topics.reactions, partitions: 6, replicationFactor: 1 },
    { topic: topics.aggregates, partitions: 3, replicationFactor: 1 },
  ]);
  // Ingest, the Spark job, the main publisher and the cluster publishers need only Kafka and the registry: they
  // start at once (the publishers' creation of the per-cluster topics is race-safe). Subscriber nodes come after
  // their publisher and the directory they connect to.
  const fanoutConfig = { FANOUT_TOPIC_PREFIX: fanoutPrefix };
  const [ingestStarted, , mainStarted, ...publishers] = await stack.addAll([
    new IngestContainer()
      .withKafka(brokers)
      .withRegistry(registryUrl)
      .withConfig({
        INGEST_TOPIC: topics.reactions,
        INGEST_BATCH_MAX_ITEMS: '5000',
        INGEST_MAX_BATCH_BODY_BYTES: String(4 * 1024 * 1024),
        INGEST_RATE_LIMIT_PER_SEC: '100000',
        INGEST_RATE_LIMIT_BURST: '100000',
      })
      .start(),
    new SparkJobContainer('emoji-swarm')
      .withKafka(brokers)
      .withRegistry(registryUrl)
      .withTopics(topics)
      .start(),
    new MainPublisherContainer()
      .withKafka(brokers)
      .withRegistry(registryUrl)
      .withConfig({
        ...fanoutConfig,
        AGGREGATES_TOPIC: topics.aggregates,
        FANOUT_MAIN_GROUP_ID: `main-${run}`,
      })
      .start(),
    ...CLUSTERS.map((c) =>
      new ClusterPublisherContainer(c)
        .withKafka(brokers)
        .withRegistry(registryUrl)
        .withConfig({ ...fanoutConfig, FANOUT_CLUSTER_GROUP_ID: `${c}-${run}` })
        .start(),
    ),
  ]);
  ingest = ingestStarted as StartedNodeServiceContainer;
  main = mainStarted as StartedNodeServiceContainer;
  await stack.addAll(
    CLUSTERS.flatMap((c, i) =>
      Array.from({ length: NODES_PER_CLUSTER }, (_, n) =>
        new SubscriberNodeContainer(c, `${c}-node-${n + 1}`)
          .withClusterPublisher((publishers[i] as StartedNodeServiceContainer).getUrl())
          .withDirectory(main.getUrl())
          .start(),
      ),
    ),
  );
});

afterAll(async () => {
  for (const v of viewers) v.viewer.stop();
  await stack.stopAll();
});

async function nodesInDirectory(): Promise<
  { node_id: string; cluster_id: string; viewers: number; matches: number }[]
> {
  const res = await fetch(`${main.getUrl()}/v1/nodes`);
  return (
    (await res.json()) as {
      nodes: { node_id: string; cluster_id: string; viewers: number; matches: number }[];
    }
  ).nodes;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
) {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last !== undefined) return last;
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** The latest state a viewer holds for its match, summed over windows. */
function totals(windows: SwarmMessage[]): { counts: Record<string, number>; swarm: Record<string, number> } {
  const counts: Record<string, number> = {};
  const swarm: Record<string, number> = {};
  for (const w of windows) {
    for (const [e, n] of Object.entries(w.counts)) counts[e] = (counts[e] ?? 0) + n;
    for (const [e, n] of Object.entries(w.swarm)) swarm[e] = (swarm[e] ?? 0) + n;
  }
  return { counts, swarm };
}

describe('whole pipeline in containers', () => {
  it('delivers the exact swarm of each match to every viewer in its room, across 2 clusters × 2 nodes', async () => {
    const all = await until('4 subscriber nodes in the directory', 30_000, async () => {
      const nodes = await nodesInDirectory();
      return nodes.length === CLUSTERS.length * NODES_PER_CLUSTER ? nodes : undefined;
    });
    expect(new Set(all.map((n) => n.cluster_id))).toEqual(new Set(CLUSTERS));

    // Four viewers per match: the directory spreads the eight over the four nodes.
    for (const matchId of Object.keys(SENT)) {
      for (let i = 0; i < 4; i++) {
        const viewer = createViewer({ directoryUrl: main.getUrl(), matchIds: [matchId] });
        const entry = { matchId, viewer, messages: [] as SwarmMessage[] };
        viewer.on('swarm', (m) => entry.messages.push(m));
        viewers.push(entry);
        await viewer.start();
      }
    }
    const usedNodes = new Set(viewers.map((v) => v.viewer.assignment?.node_id));
    expect(usedNodes.size).toBe(CLUSTERS.length * NODES_PER_CLUSTER);
    // Nodes report their rooms on their heartbeat; route only after the main publisher knows them all.
    await until('every node to report its rooms', 30_000, async () => {
      const nodes = await nodesInDirectory();
      return nodes.every((n) => n.matches > 0) ? true : undefined;
    });

    // One batch per match: one ingest timestamp, so one 2-second window each and an exact swarm per window.
    let user = 0;
    for (const [matchId, perEmoji] of Object.entries(SENT)) {
      const reactions = Object.entries(perEmoji).flatMap(([emoji, n]) =>
        Array.from({ length: n }, () => ({
          match_id: matchId,
          user_id: `u-${user++}`,
          emoji,
          timestamp: Date.now(),
        })),
      );
      const res = await fetch(`${ingest.getUrl()}/v1/reactions:batch?durable=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reactions }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { accepted: number }).accepted).toBe(reactions.length);
    }

    for (const { matchId, viewer } of viewers) {
      const expected = SENT[matchId] as Record<string, number>;
      await until(
        `viewer on ${viewer.assignment?.node_id} to hold the full counts of ${matchId}`,
        180_000,
        () => {
          const { counts } = totals(viewer.windows(matchId));
          return Object.entries(expected).every(([e, n]) => counts[e] === n) ? true : undefined;
        },
      );
    }
    for (const { matchId, viewer, messages } of viewers) {
      const expected = SENT[matchId] as Record<string, number>;
      const windows = viewer.windows(matchId);
      expect(windows).toHaveLength(1);
      expect(totals(windows)).toEqual({
        counts: expected,
        swarm: Object.fromEntries(Object.entries(expected).map(([e, n]) => [e, swarmOf(n)])),
      });
      // Rooms: a viewer hears only the match it joined.
      expect(messages.length).toBeGreaterThan(0);
      expect(messages.every((m) => m.match_id === matchId)).toBe(true);
    }
  });
});
