#!/usr/bin/env tsx
/**
 * `npm run provision` — download what the local runtime needs into the cache ($EMOSTREAM_CACHE, default
 * ~/.cache/emostream): Kafka broker jars, Apicurio Registry, the pyspark virtualenv and Spark connector jars.
 * Idempotent: a second run only checks markers. `--skip-spark` leaves Spark out. `--profile cluster` also makes sure
 * HAProxy is there (apt-get install haproxy when root; otherwise it is named as missing).
 */
import { argv } from 'zx';
import { reportFailure } from '../infra/local/foreground.ts';
import { ensureHaproxy } from '../infra/local/haproxy.ts';
import { profileFrom } from '../infra/local/profiles.ts';
import { provision } from '../infra/local/provisioner.ts';

const started = Date.now();
try {
  const cluster = profileFrom(argv) === 'cluster';
  const rt = await provision({ skipSpark: Boolean(argv['skip-spark']) });
  const haproxy = cluster ? await ensureHaproxy() : undefined;
  console.log(`provisioned in ${((Date.now() - started) / 1000).toFixed(1)} s into ${rt.paths.cache}`);
  console.log(`  Kafka ${rt.versions.kafka.version} (JDK ${rt.toolchain.kafkaJdk.feature})`);
  console.log(
    `  Apicurio Registry ${rt.versions.apicurioRegistry.version} (JDK ${rt.toolchain.registryJdk.feature})`,
  );
  if (!argv['skip-spark'])
    console.log(`  Spark ${rt.versions.spark.pyspark} (JDK ${rt.toolchain.sparkJdk.feature})`);
  if (haproxy) console.log(`  HAProxy ${haproxy}`);
} catch (error) {
  process.exitCode = reportFailure(error);
}
