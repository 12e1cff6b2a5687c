import path from 'node:path';
import type { Runtime } from './provisioner.ts';
import type { ServiceSpec } from './supervisor.ts';

export interface SchemaRegistryOptions {
  host: string;
  port: number;
  /**
   * Port of Quarkus' management interface (health, metrics). It cannot be switched off at run time (a build-time
   * setting in this distribution) and defaults to 9000 on all interfaces, so it gets its own loopback port.
   */
  managementPort: number;
  /** JVM max heap. @default '512m' */
  heap?: string;
}

/**
 * The path prefix of Apicurio's Confluent-compatible API. Clients such as `@confluentinc/schemaregistry` take
 * `<base>/apis/ccompat/v7` as their base URL and append `/subjects/...`, `/schemas/ids/...` themselves.
 */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

/**
 * The spec that runs Apicurio Registry's Quarkus app with in-memory storage on loopback, both its API and its
 * management interface. Readiness is probed on the Confluent-compatible API itself.
 */
export function schemaRegistrySpec(rt: Runtime, options: SchemaRegistryOptions): ServiceSpec {
  const base = `http://${options.host}:${options.port}`;
  const url = `${base}${CCOMPAT_PATH}`;
  return {
    name: 'registry',
    command: rt.toolchain.registryJdk.java,
    args: [
      `-Xmx${options.heap ?? '512m'}`,
      '-XX:+UseSerialGC',
      `-Dquarkus.http.host=${options.host}`,
      `-Dquarkus.http.port=${options.port}`,
      `-Dquarkus.management.host=${options.host}`,
      `-Dquarkus.management.port=${options.managementPort}`,
      // Every request is logged at INFO by default; under load that is the log file's only content.
      '-Dquarkus.http.access-log.enabled=false',
      '-jar',
      path.join(rt.paths.registryHome, 'app', 'quarkus-run.jar'),
    ],
    readyTimeoutMs: 120_000,
    stopTimeoutMs: 15_000,
    addresses: { url, management: `http://${options.host}:${options.managementPort}` },
    ready: async (signal) => {
      const res = await fetch(`${url}/subjects`, { signal });
      return res.ok;
    },
  };
}
