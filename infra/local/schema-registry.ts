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
  /**
   * JVM max heap. @default '256m': the registry serves a few schema lookups per client (clients cache them), on a
   * heap that holds its start-up (Quarkus, H2) with room to spare.
   */
  heap?: string;
  /**
   * Directory of a persistent H2 database (Apicurio's SQL storage on a file), so schemas and their ids survive a
   * restart; records on Kafka carry those ids. @default in-memory storage, empty at every start
   */
  storageDir?: string;
  /**
   * HTTP basic auth on every path (kafka-security.ts `registryAuthDir`): the registry runs in `workDir`, whose
   * `config/application.properties` holds the embedded user, and the readiness probe logs in as it.
   * @default no auth
   */
  auth?: { workDir: string; username: string; password: string };
}

/**
 * The JDBC URL of the registry's database file under `dir`. H2 wants an absolute path and treats `;` as the start
 * of its settings, so a directory with one is refused rather than misread.
 */
export function registryDatabaseUrl(dir: string): string {
  if (!path.isAbsolute(dir) || dir.includes(';')) {
    throw new Error(`registry storage dir must be an absolute path without ';', got ${dir}`);
  }
  return `jdbc:h2:file:${path.join(dir, 'registry')}`;
}

/**
 * The path prefix of Apicurio's Confluent-compatible API. Clients such as `@confluentinc/schemaregistry` take
 * `<base>/apis/ccompat/v7` as their base URL and append `/subjects/...`, `/schemas/ids/...` themselves.
 */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

/**
 * The spec that runs Apicurio Registry's Quarkus app on loopback, both its API and its management interface, with
 * its SQL storage on H2: in memory, or in a file under {@link SchemaRegistryOptions.storageDir}. Readiness is probed
 * on the Confluent-compatible API itself.
 */
export function schemaRegistrySpec(rt: Runtime, options: SchemaRegistryOptions): ServiceSpec {
  const base = `http://${options.host}:${options.port}`;
  const url = `${base}${CCOMPAT_PATH}`;
  const auth = options.auth;
  const headers: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
    : {};
  return {
    name: 'registry',
    command: rt.toolchain.registryJdk.java,
    args: [
      `-Xmx${options.heap ?? '256m'}`,
      // The default initial heap, 1/64 of the machine's memory, is capped at the maximum: start small instead and
      // let Serial grow it to what the registry holds.
      '-Xms32m',
      '-XX:+UseSerialGC',
      // C1 alone: the registry's few requests never need C2's peak code, whose compiler threads and arenas cost
      // tens of MB of resident memory during start-up.
      '-XX:TieredStopAtLevel=1',
      // With a storage dir (npm start's data dir): an archive of the app's classes, written by the first run's exit
      // and mapped by later starts instead of loading and verifying Quarkus' classes again. The registry's JDK is
      // 21 or newer, whose AutoCreateSharedArchive also rewrites an archive made by another JDK.
      ...(options.storageDir
        ? [
            '-XX:+AutoCreateSharedArchive',
            `-XX:SharedArchiveFile=${path.join(options.storageDir, 'app-classes.jsa')}`,
          ]
        : []),
      `-Dquarkus.http.host=${options.host}`,
      `-Dquarkus.http.port=${options.port}`,
      `-Dquarkus.management.host=${options.host}`,
      `-Dquarkus.management.port=${options.managementPort}`,
      // Every request is logged at INFO by default; under load that is the log file's only content.
      '-Dquarkus.http.access-log.enabled=false',
      ...(options.storageDir
        ? [
            `-Dapicurio.datasource.url=${registryDatabaseUrl(options.storageDir)}`,
            // A handful of connections serve one local user; the default pool opens 20 at start.
            '-Dapicurio.datasource.jdbc.initial-size=2',
            '-Dapicurio.datasource.jdbc.min-size=2',
            '-Dapicurio.datasource.jdbc.max-size=20',
          ]
        : []),
      '-jar',
      path.join(rt.paths.registryHome, 'app', 'quarkus-run.jar'),
    ],
    ...(auth ? { cwd: auth.workDir } : {}),
    readyTimeoutMs: 120_000,
    stopTimeoutMs: 15_000,
    addresses: { url, management: `http://${options.host}:${options.managementPort}` },
    ready: async (signal) => {
      const res = await fetch(`${url}/subjects`, { signal, headers });
      return res.ok;
    },
  };
}
