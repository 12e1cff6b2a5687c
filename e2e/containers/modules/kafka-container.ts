import { AbstractStartedContainer, GenericContainer, type StartedTestContainer } from 'testcontainers';
import { createKafka, ensureTopic, KafkaLogLevel, type TopicSpec } from '../../../common/kafka.ts';
import { createLogger } from '../../../common/logger.ts';
import { imageNames } from '../../../infra/images/image-names.ts';
import { freePort, HostProbeWaitStrategy, SUITE_LABEL } from './host-network.ts';

export type { TopicSpec };

/** The suite's Kafka clients log here (kafkajs warnings while creating topics, for instance). */
const logger = createLogger('emostream-containers');

/**
 * A single-node Kafka (KRaft, combined broker + controller) on the host network, bound to 127.0.0.1.
 * Configured through `KAFKA_*` variables, so it runs the local `emostream/kafka` image and apache/kafka alike.
 *
 * @example
 *   await using kafka = await new KafkaContainer().withTopics([{ topic: 't', partitions: 3 }]).start();
 *   kafka.getBrokers(); // "127.0.0.1:41234"
 */
export class KafkaContainer extends GenericContainer {
  private brokerPort?: number;
  private controllerPort?: number;
  private topics: TopicSpec[] = [];

  /** @param image defaults to `EMOSTREAM_KAFKA_IMAGE` or the local `emostream/kafka:<pinned version>`. */
  constructor(image = imageNames().kafka) {
    super(image);
    this.withNetworkMode('host')
      .withLabels({ [SUITE_LABEL]: 'kafka' })
      .withStartupTimeout(120_000);
  }

  /** Client listener port on 127.0.0.1. @default a free port */
  withBrokerPort(port: number): this {
    this.brokerPort = port;
    return this;
  }

  /** KRaft controller listener port on 127.0.0.1. @default a free port */
  withControllerPort(port: number): this {
    this.controllerPort = port;
    return this;
  }

  /** Topics created, with explicit partition counts, before `start()` resolves. */
  withTopics(topics: TopicSpec[]): this {
    this.topics = [...this.topics, ...topics];
    return this;
  }

  override async start(): Promise<StartedKafkaContainer> {
    const broker = this.brokerPort ?? (await freePort());
    const controller = this.controllerPort ?? (await freePort());
    const brokers = `127.0.0.1:${broker}`;
    this.withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://${brokers},CONTROLLER://127.0.0.1:${controller}`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${brokers}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@127.0.0.1:${controller}`,
      KAFKA_LOG_DIRS: '/tmp/kafka-logs',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
    });
    // Ready means what clients need: the broker answers metadata with a controller elected.
    this.withWaitStrategy(
      new HostProbeWaitStrategy(`Kafka at ${brokers} to answer metadata`, async () => {
        const admin = adminFor(brokers);
        try {
          await admin.connect();
          const cluster = await admin.describeCluster();
          return cluster.brokers.length > 0 && cluster.controller !== null;
        } finally {
          await admin.disconnect();
        }
      }).withStartupTimeout(this.startupTimeoutMs ?? 120_000),
    );
    const started = new StartedKafkaContainer(await super.start(), brokers);
    if (this.topics.length > 0) {
      try {
        await started.createTopics(this.topics);
      } catch (error) {
        await started.stop();
        throw error;
      }
    }
    return started;
  }
}

function adminFor(brokers: string) {
  return createKafka({
    clientId: 'emostream-containers',
    brokers,
    logger,
    // Refused connections are the expected answer until the broker is up; the probe's false says enough.
    logLevel: KafkaLogLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1_000,
  }).admin();
}

/** A client of the suite's broker at `brokers`, logging to the suite's logger. */
export function kafkaClient(brokers: string) {
  return createKafka({ clientId: 'emostream-containers', brokers, logger });
}

/** A running {@link KafkaContainer}. */
export class StartedKafkaContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    private readonly brokers: string,
  ) {
    super(started);
  }

  /** Bootstrap list for clients, `127.0.0.1:<port>`. */
  getBrokers(): string {
    return this.brokers;
  }

  /** A kafkajs client of this broker. */
  kafka() {
    return kafkaClient(this.brokers);
  }

  /** Creates topics with exactly these partition counts (replication 1), waiting for their leaders. */
  async createTopics(topics: TopicSpec[]): Promise<void> {
    await ensureTopic(
      this.kafka(),
      topics.map((t) => ({ replicationFactor: 1, ...t })),
      { exactPartitions: true },
    );
  }
}
