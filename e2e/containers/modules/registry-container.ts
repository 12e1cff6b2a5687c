import { AbstractStartedContainer, GenericContainer, type StartedTestContainer } from 'testcontainers';
import { imageNames } from '../../../infra/images/image-names.ts';
import { freePort, HostProbeWaitStrategy, httpOk, SUITE_LABEL } from './host-network.ts';

/**
 * Apicurio Registry 3 (in-memory storage) on the host network, HTTP and the Quarkus management interface both
 * bound to 127.0.0.1. Configured through Quarkus environment variables, so the local `emostream/apicurio-registry`
 * image and apicurio/apicurio-registry behave the same.
 */
export class RegistryContainer extends GenericContainer {
  private httpPort?: number;
  private managementPort?: number;

  /** @param image defaults to `EMOSTREAM_REGISTRY_IMAGE` or the local `emostream/apicurio-registry:<pinned>`. */
  constructor(image = imageNames().registry) {
    super(image);
    this.withNetworkMode('host')
      .withLabels({ [SUITE_LABEL]: 'registry' })
      .withStartupTimeout(180_000);
  }

  /** API port on 127.0.0.1. @default a free port */
  withHttpPort(port: number): this {
    this.httpPort = port;
    return this;
  }

  /** Management (health) port on 127.0.0.1. @default a free port */
  withManagementPort(port: number): this {
    this.managementPort = port;
    return this;
  }

  override async start(): Promise<StartedRegistryContainer> {
    const http = this.httpPort ?? (await freePort());
    const management = this.managementPort ?? (await freePort());
    this.withEnvironment({
      QUARKUS_HTTP_HOST: '127.0.0.1',
      QUARKUS_HTTP_PORT: String(http),
      QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
      QUARKUS_MANAGEMENT_PORT: String(management),
      QUARKUS_PROFILE: 'prod',
    });
    const base = `http://127.0.0.1:${http}`;
    // Readiness from the registry's own health check, then the Confluent-compatible API the clients use.
    this.withWaitStrategy(
      new HostProbeWaitStrategy(
        `Apicurio Registry ready at ${base}`,
        async () =>
          (await httpOk(`http://127.0.0.1:${management}/health/ready`)) &&
          (await httpOk(`${base}/apis/ccompat/v7/subjects`)),
        500,
      ).withStartupTimeout(this.startupTimeoutMs ?? 180_000),
    );
    return new StartedRegistryContainer(await super.start(), base);
  }
}

/** A running {@link RegistryContainer}. */
export class StartedRegistryContainer extends AbstractStartedContainer {
  constructor(
    started: StartedTestContainer,
    private readonly base: string,
  ) {
    super(started);
  }

  /** Base URL of the registry, `http://127.0.0.1:<port>`. */
  getUrl(): string {
    return this.base;
  }

  /** Confluent-compatible API base URL, what `SCHEMA_REGISTRY_URL` expects. */
  getCcompatUrl(): string {
    return `${this.base}/apis/ccompat/v7`;
  }
}
