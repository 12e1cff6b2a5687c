import { fileURLToPath } from 'node:url';
import { AbstractStartedContainer, GenericContainer, type StartedTestContainer } from 'testcontainers';
import { imageNames } from '../../../infra/images/image-names.ts';
import { freePort, HostProbeWaitStrategy, httpOk, SUITE_LABEL } from './host-network.ts';

/** The repository root, bind-mounted read-only into the container as /app. */
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * One of EmoStream's TypeScript services (`ingest/main.ts`, `fanout/main.ts <role>`) in a container of the Node
 * image, running this checkout (mounted read-only) with tsx, on the host network. The service gets its port
 * through its own port variable and is ready when `GET /ready` answers 2xx.
 */
export class NodeServiceContainer extends GenericContainer {
  private port?: number;
  private readonly env: Record<string, string> = { HOST: '127.0.0.1', NODE_ENV: 'production' };

  /**
   * @param entry the entry file and its arguments, relative to the repository root
   * @param portVariable the service's port variable, e.g. `INGEST_PORT`
   * @param image defaults to `EMOSTREAM_NODE_IMAGE` or the local `emostream/node:<this node's version>`
   */
  constructor(
    private readonly entry: string[],
    private readonly portVariable: string,
    image = imageNames().node,
  ) {
    super(image);
    this.withNetworkMode('host')
      .withLabels({ [SUITE_LABEL]: entry.join(' ') })
      .withBindMounts([{ source: repoRoot, target: '/app', mode: 'ro' }])
      .withWorkingDir('/app')
      .withStartupTimeout(60_000);
  }

  /** `KAFKA_BROKERS`. */
  withKafka(brokers: string): this {
    this.env.KAFKA_BROKERS = brokers;
    return this;
  }

  /** `SCHEMA_REGISTRY_URL` (Confluent-compatible base). */
  withRegistry(url: string): this {
    this.env.SCHEMA_REGISTRY_URL = url;
    return this;
  }

  /** Any other configuration variable of the service. */
  withConfig(values: Record<string, string>): this {
    Object.assign(this.env, values);
    return this;
  }

  /** Port on 127.0.0.1. @default a free port */
  withPort(port: number): this {
    this.port = port;
    return this;
  }

  override async start(): Promise<StartedNodeServiceContainer> {
    const port = this.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    this.withEnvironment({ ...this.env, [this.portVariable]: String(port) }).withCommand([
      'node',
      '--import',
      'tsx',
      ...this.entry,
    ]);
    this.withWaitStrategy(
      new HostProbeWaitStrategy(`${this.entry.join(' ')} ready at ${url}`, () =>
        httpOk(`${url}/ready`),
      ).withStartupTimeout(this.startupTimeoutMs ?? 60_000),
    );
    return new StartedNodeServiceContainer(await super.start(), url);
  }
}

/** A running {@link NodeServiceContainer}. */
export class StartedNodeServiceContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    private readonly url: string,
  ) {
    super(started);
  }

  /** Base URL, `http://127.0.0.1:<port>`. */
  getUrl(): string {
    return this.url;
  }
}

/** The ingest API (`ingest/main.ts`, port variable `INGEST_PORT`). */
export class IngestContainer extends NodeServiceContainer {
  constructor(image?: string) {
    super(['ingest/main.ts'], 'INGEST_PORT', image);
  }
}

/** The fan-out main publisher, which also serves the directory (`fanout/main.ts main-publisher`). */
export class MainPublisherContainer extends NodeServiceContainer {
  constructor(image?: string) {
    super(['fanout/main.ts', 'main-publisher'], 'FANOUT_MAIN_PORT', image);
  }
}

/** A cluster publisher (`fanout/main.ts cluster-publisher`). */
export class ClusterPublisherContainer extends NodeServiceContainer {
  constructor(clusterId: string, image?: string) {
    super(['fanout/main.ts', 'cluster-publisher'], 'CLUSTER_PUBLISHER_PORT', image);
    this.withConfig({ CLUSTER_ID: clusterId });
  }
}

/** A subscriber node viewers connect to (`fanout/main.ts subscriber-node`). */
export class SubscriberNodeContainer extends NodeServiceContainer {
  constructor(clusterId: string, nodeId: string, image?: string) {
    super(['fanout/main.ts', 'subscriber-node'], 'SUBSCRIBER_PORT', image);
    this.withConfig({ CLUSTER_ID: clusterId, NODE_ID: nodeId });
  }

  /** Its cluster publisher's URL (`CLUSTER_PUBLISHER_URL`). */
  withClusterPublisher(url: string): this {
    return this.withConfig({ CLUSTER_PUBLISHER_URL: url });
  }

  /** The directory, i.e. the main publisher's URL (`DIRECTORY_URL`). */
  withDirectory(url: string): this {
    return this.withConfig({ DIRECTORY_URL: url });
  }
}
