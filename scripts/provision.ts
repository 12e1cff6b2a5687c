#!/usr/bin/env tsx
/**
 * `npm run provision` — download what the local runtime needs into the cache ($EMOSTREAM_CACHE, default
 * ~/.cache/emostream): Kafka broker jars, Apicurio Registry, the pyspark virtualenv and Spark connector jars.
 * Idempotent: a second run only checks markers. `--skip-spark` leaves Spark out.
 */
import { argv } from 'zx';
import { reportFailure } from '../infra/local/foreground.ts';
import { provision } from '../infra/local/provisioner.ts';

const started = Date.now();
try {
  const rt = await provision({ skipSpark: Boolean(argv['skip-spark']) });
  console.log(`provisioned in ${((Date.now() - started) / 1000).toFixed(1)} s into ${rt.paths.cache}`);
  console.log(`  Kafka ${rt.versions.kafka.version} (JDK ${rt.toolchain.kafkaJdk.feature})`);
  console.log(
    `  Apicurio Registry ${rt.versions.apicurioRegistry.version} (JDK ${rt.toolchain.registryJdk.feature})`,
  );
  if (!argv['skip-spark'])
    console.log(`  Spark ${rt.versions.spark.pyspark} (JDK ${rt.toolchain.sparkJdk.feature})`);
} catch (error) {
  process.exitCode = reportFailure(error);
}
