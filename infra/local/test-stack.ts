/**
 * Vitest globalSetup of the `integration` project: provisions (with progress) and starts a real Kafka and schema
 * registry on free loopback ports in a temp dir, once per run, and provides their addresses to tests:
 *
 *   import { inject } from 'vitest';
 *   const brokers = inject('kafkaBrokers');   // "127.0.0.1:port"
 *   const registry = inject('registryUrl');   // "http://127.0.0.1:port/apis/ccompat/v7"
 *   const spark = inject('spark');            // { sparkSubmit, python, jars, env, version }
 *
 * Spark is not started: jobs run with spark-submit in local mode, through the launcher in jobs/spark-sql/control
 * (`createSparkJob`) with the provided runtime.
 *
 * To run the suite against an already running stack instead, set both EMOSTREAM_TEST_KAFKA_BROKERS and
 * EMOSTREAM_TEST_REGISTRY_URL. EMOSTREAM_KEEP_RUN_DIR=1 keeps the temp dir with the service logs.
 *
 * EMOSTREAM_SECURE=1 runs the suite against a secured stack (local-stack.ts `secure`): this setup puts the admin
 * user's KAFKA_* / SCHEMA_REGISTRY_* variables (common/client-security.ts) into the environment the test workers and
 * the services they start inherit, so every createKafka and registry client of the suite logs in.
 */
import type { TestProject } from 'vitest/node';
import { clientSecurityEnv } from '../../common/client-security.ts';
import { secureFrom } from './foreground.ts';
import { clientSecurityOf } from './kafka-security.ts';
import { startStack } from './local-stack.ts';
import { provision } from './provisioner.ts';
import { type SparkRuntime, sparkRuntime } from './spark-submit.ts';
import { DEFAULT_RESTART_POLICY } from './supervisor.ts';

export { type Stack, type StackOptions, startStack } from './local-stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `host:port` of the test broker (the value of KAFKA_BROKERS). */
    kafkaBrokers: string;
    /** Confluent-compatible base URL of the test registry (the value of SCHEMA_REGISTRY_URL). */
    registryUrl: string;
    /** spark-submit path, connector jars and environment from the provisioned cache. */
    spark: SparkRuntime;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = {
    brokers: process.env.EMOSTREAM_TEST_KAFKA_BROKERS,
    registry: process.env.EMOSTREAM_TEST_REGISTRY_URL,
  };
  if (external.brokers && external.registry) {
    const runtime = await provision();
    project.provide('kafkaBrokers', external.brokers);
    project.provide('registryUrl', external.registry);
    project.provide('spark', await sparkRuntime(runtime));
    return async () => {};
  }

  // Restarts on, as under npm start: the fault-injection tests kill the broker and the registry and expect them back.
  const secure = secureFrom({});
  const stack = await startStack({ restart: DEFAULT_RESTART_POLICY, secure });
  if (stack.security)
    Object.assign(process.env, clientSecurityEnv(clientSecurityOf(stack.security, 'admin')));
  process.stderr.write(
    `test stack${secure ? ' (secured: SASL_SSL, registry basic auth)' : ''}: Kafka ${stack.kafkaBrokers}, registry ${stack.registryUrl} (${stack.runDir})\n`,
  );
  project.provide('kafkaBrokers', stack.kafkaBrokers);
  project.provide('registryUrl', stack.registryUrl);
  project.provide('spark', await sparkRuntime(stack.runtime));
  // Vitest calls this after the run, whether tests passed or failed; if vitest itself dies, the kernel sends each
  // service SIGTERM (its parent-death signal, supervisor.ts) and they stop.
  return () => stack.stop();
}
