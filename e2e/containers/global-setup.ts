/**
 * Vitest globalSetup of the `containers` project: starts Kafka and the schema registry as containers once for the
 * run (on free loopback ports, host networking) and provides their addresses; every test file creates its own
 * topics, so files never see each other's records. The teardown removes both containers, also after failures.
 *
 *   import { inject } from 'vitest';
 *   inject('containerKafkaBrokers'); // "127.0.0.1:port"
 *   inject('containerRegistryUrl');  // "http://127.0.0.1:port/apis/ccompat/v7"
 */
import type { TestProject } from 'vitest/node';
import { imageLabels } from '../../infra/images/docker-cli.ts';
import { defaultImageNames, imageNames } from '../../infra/images/image-names.ts';
import { ContainerStack } from './container-stack.ts';
import { KafkaContainer } from './modules/kafka-container.ts';
import { RegistryContainer } from './modules/registry-container.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap list of the Kafka container. */
    containerKafkaBrokers: string;
    /** Confluent-compatible base URL of the registry container. */
    containerRegistryUrl: string;
  }
}

/**
 * testcontainers settings for this process (globalSetup runs outside the workers, where the project's `env` does
 * not reach): no reaper container (the suite removes its own containers), and loopback as the host, because the
 * containers share the host's network and a daemon run with --bridge=none has no bridge gateway to look up.
 */
export const TESTCONTAINERS_ENV = {
  TESTCONTAINERS_RYUK_DISABLED: 'true',
  TESTCONTAINERS_HOST_OVERRIDE: '127.0.0.1',
};

/**
 * The suite's images that are the local defaults must exist: without a registry a pull can only fail, after a
 * DNS timeout, with a message that does not say what to do. Images named through EMOSTREAM_*_IMAGE may be pulled.
 */
async function checkLocalImages(): Promise<void> {
  const defaults = defaultImageNames();
  const names = imageNames();
  const missing: string[] = [];
  for (const key of ['kafka', 'registry', 'spark', 'node'] as const) {
    if (names[key] === defaults[key] && (await imageLabels(names[key])) === undefined)
      missing.push(names[key]);
  }
  if (missing.length > 0) {
    throw new Error(`local images missing: ${missing.join(', ')}; build them with \`npm run images:build\``);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  for (const [key, value] of Object.entries(TESTCONTAINERS_ENV)) process.env[key] ??= value;
  await checkLocalImages();
  const stack = new ContainerStack();
  const started = Date.now();
  try {
    const [kafka, registry] = await stack.addAll([
      new KafkaContainer().start(),
      new RegistryContainer().start(),
    ] as const);
    project.provide('containerKafkaBrokers', kafka.getBrokers());
    project.provide('containerRegistryUrl', registry.getCcompatUrl());
    process.stderr.write(
      `containers: Kafka ${kafka.getBrokers()}, registry ${registry.getUrl()} ` +
        `(up in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
    );
  } catch (error) {
    process.stderr.write(`containers: start failed; logs:\n${await stack.logTails().catch(() => '')}\n`);
    await stack.stopAll();
    throw error;
  }
  return () => stack.stopAll();
}
