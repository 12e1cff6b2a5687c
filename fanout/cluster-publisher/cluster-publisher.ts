/**
 * A cluster publisher: reads its cluster's topic and emits each window into the Socket.IO room `match:<id>`,
 * whose members are the cluster's subscriber nodes that asked for the match (`subscribe`). A node gets only the
 * matches it has viewers of; a message is encoded once per broadcast whatever the number of nodes. Nodes name
 * themselves in the handshake ({@link NodeAuth}); a handshake without a node id is refused.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Server as HttpServer } from 'node:http';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { Server, type Socket } from 'socket.io';
import {
  type AvroSerde,
  createAvroSerde,
  createRegistryClient,
  loadSchema,
  type RegistryClient,
} from '../../common/avro-serde.ts';
import { createKafka, ensureTopic } from '../../common/kafka.ts';
import { createLogger, type Logger } from '../../common/logger.ts';
import {
  matchRoom,
  type NodeAuth,
  type NodeToPublisherEvents,
  nodeAuthSchema,
  type PublisherToNodeEvents,
  type SubscriptionAck,
  type SwarmMessage,
  type SwarmWindow,
  subscriptionRequestSchema,
} from '../../common/socket-events.ts';
import { type ClusterPublisherConfig, clusterTopic } from '../config.ts';
import {
  closeServer,
  closeSocketServer,
  createFanoutMetrics,
  createHttpApp,
  type FanoutService,
  listen,
} from '../http-server.ts';
import { FANOUT_CONSUMER_GROUP, FANOUT_KAFKA_RETRY } from '../kafka.ts';
import type { WindowFeed } from './window-feed.ts';

/** True when no secret is configured, or `given` is it (compared in constant time). */
function linkSecretMatches(expected: string | undefined, given: string | undefined): boolean {
  if (expected === undefined) return true;
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Dependencies of {@link createClusterPublisher}; all optional. */
export interface ClusterPublisherDeps {
  logger?: Logger;
  registry?: RegistryClient;
  kafka?: Kafka;
  /**
   * Read windows from this in-process feed instead of the cluster's Kafka topic (no Kafka client is made).
   * @default the cluster's topic
   */
  windows?: WindowFeed;
}

/** A running cluster publisher. */
export interface ClusterPublisher extends FanoutService {
  /** Subscriber nodes connected. */
  readonly nodeCount: number;
}

type NodeSocket = Socket<NodeToPublisherEvents, PublisherToNodeEvents, Record<string, never>, NodeAuth>;

/** Most matches one node may subscribe to (a bound on rooms per socket). */
const MAX_MATCHES_PER_NODE = 10_000;

/** Creates a cluster publisher; nothing listens or connects before `start()`. */
export function createClusterPublisher(
  config: ClusterPublisherConfig,
  deps: ClusterPublisherDeps = {},
): ClusterPublisher {
  const logger = (deps.logger ?? createLogger('fanout-cluster')).child({ cluster: config.clusterId });
  const metrics = createFanoutMetrics(
    'cluster-publisher',
    'Seconds from the main publisher routing a window (routed_at) to this publisher emitting it to its nodes.',
  );
  const feed = deps.windows;
  const topic = clusterTopic(config.topicPrefix, config.clusterId);
  let io: Server<NodeToPublisherEvents, PublisherToNodeEvents, Record<string, never>, NodeAuth> | undefined;
  let server: HttpServer | undefined;
  let consumer: Consumer | undefined;
  let serde: AvroSerde<SwarmWindow> | undefined;
  let url = '';
  let consuming = feed !== undefined;
  let stopping = false;

  function roomCount(): number {
    if (io === undefined) return 0;
    let n = 0;
    for (const name of io.of('/').adapter.rooms.keys()) if (name.startsWith('match:')) n++;
    return n;
  }

  function publish(window: SwarmWindow): void {
    const sentAt = Date.now();
    const message: SwarmMessage = { ...window, sent_at: sentAt };
    io?.to(matchRoom(window.match_id)).emit('swarm', message);
    metrics.messagesOut.inc({ kind: 'swarm' });
    metrics.emitLatency.observe(Math.max(0, sentAt - window.routed_at) / 1000);
  }

  async function onBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    if (serde === undefined) return;
    for (const record of batch.messages) {
      if (record.value === null) continue;
      let window: SwarmWindow;
      try {
        window = await serde.deserialize(record.value);
      } catch (err) {
        metrics.refused.inc({ code: 'undecodable' });
        logger.warn({ err, offset: record.offset }, 'undecodable fan-out record skipped');
        resolveOffset(record.offset);
        continue;
      }
      metrics.messagesIn.inc({ kind: 'swarm' });
      if (Date.now() - window.routed_at > config.staleMs) {
        metrics.refused.inc({ code: 'stale' });
      } else {
        publish(window);
      }
      resolveOffset(record.offset);
    }
    await heartbeat();
  }

  function onNode(socket: NodeSocket): void {
    const log = logger.child({ node: socket.data.node_id });
    log.info('subscriber node connected');
    const change = (join: boolean) => (request: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (a: SubscriptionAck) => void) : () => {};
      const parsed = subscriptionRequestSchema.safeParse(request);
      if (!parsed.success) {
        metrics.refused.inc({ code: 'invalid_payload' });
        reply({
          ok: false,
          error: { code: 'invalid_payload', message: parsed.error.issues[0]?.message ?? '' },
        });
        return;
      }
      const rooms = parsed.data.match_ids.map(matchRoom);
      if (join) {
        if (socket.rooms.size - 1 + rooms.length > MAX_MATCHES_PER_NODE) {
          reply({ ok: false, error: { code: 'too_many_rooms', message: `at most ${MAX_MATCHES_PER_NODE}` } });
          return;
        }
        socket.join(rooms);
      } else {
        for (const room of rooms) socket.leave(room);
      }
      metrics.rooms.set(roomCount());
      reply({ ok: true, rooms: socket.rooms.size - 1 });
    };
    socket.on('subscribe', change(true));
    socket.on('unsubscribe', change(false));
    socket.onAny((event: string, ...args: unknown[]) => {
      if (event === 'subscribe' || event === 'unsubscribe') return;
      metrics.refused.inc({ code: 'unknown_event' });
      const ack = args.at(-1);
      if (typeof ack === 'function')
        ack({ ok: false, error: { code: 'unknown_event', message: 'unknown event' } });
    });
    socket.on('disconnect', (reason) => {
      metrics.rooms.set(roomCount());
      log.info({ reason }, 'subscriber node disconnected');
    });
  }

  return {
    get url() {
      return url;
    },
    get ready() {
      return consuming && !stopping && server?.listening === true;
    },
    get nodeCount() {
      return io?.of('/').sockets.size ?? 0;
    },
    metrics,
    async start() {
      const app = createHttpApp(metrics, () => consuming && !stopping);
      const bound = await listen(app, config.host, config.port);
      server = bound.server;
      url = `http://${config.host}:${bound.port}`;
      io = new Server(server, {
        serveClient: false,
        transports: ['websocket'],
        maxHttpBufferSize: 1 << 20,
      });
      io.use((socket, next) => {
        const auth = nodeAuthSchema.safeParse(socket.handshake.auth);
        if (auth.success && !linkSecretMatches(config.linkSecret, auth.data.link_secret)) {
          metrics.refused.inc({ code: 'bad_link_secret' });
          return next(
            Object.assign(new Error('unauthorized: FANOUT_LINK_SECRET missing or wrong'), {
              data: { code: 'unauthorized' },
            }),
          );
        }
        if (auth.success) {
          socket.data = auth.data;
          return next();
        }
        metrics.refused.inc({ code: 'invalid_handshake' });
        // `data` reaches the client's connect_error as a machine-readable reason.
        next(
          Object.assign(new Error('handshake auth must carry node_id'), {
            data: { code: 'invalid_payload' },
          }),
        );
      });
      io.on('connection', onNode);
      if (feed !== undefined) feed.attach(publish);
      else {
        const registry = deps.registry ?? createRegistryClient(config.registryUrl);
        serde = await createAvroSerde<SwarmWindow>(registry, {
          topic,
          schema: await loadSchema('swarm-update'),
        });
        const kafka =
          deps.kafka ??
          createKafka({
            clientId: `emostream-fanout-${config.clusterId}`,
            brokers: config.kafkaBrokers,
            logger,
            retry: FANOUT_KAFKA_RETRY,
          });
        const admin = kafka.admin();
        await admin.connect();
        try {
          await ensureTopic(admin, { topic, partitions: config.topicPartitions });
        } finally {
          await admin.disconnect();
        }
        consumer = kafka.consumer({
          groupId: config.groupId,
          allowAutoTopicCreation: false,
          ...FANOUT_CONSUMER_GROUP,
        });
        await consumer.connect();
        consumer.on(consumer.events.GROUP_JOIN, () => {
          consuming = true;
        });
        // A new group starts at the beginning of the (bounded, per-cluster) topic; stale windows are skipped.
        await consumer.subscribe({ topic, fromBeginning: true });
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          // kafkajs restarts the consumer after retriable errors; otherwise this tier is no longer ready.
          if (!payload.restart) {
            consuming = false;
            logger.error({ err: payload.error }, 'consumer stopped after a non-retriable error');
          }
        });
        await consumer.run({ eachBatch: onBatch, eachBatchAutoResolve: false });
      }
      logger.info({ url, topic: feed === undefined ? topic : null }, 'cluster publisher listening');
    },
    async stop() {
      stopping = true;
      await consumer?.disconnect();
      if (io !== undefined && server !== undefined) await closeSocketServer(io, server);
      else if (server !== undefined) await closeServer(server);
      logger.info('cluster publisher stopped');
    },
  };
}
