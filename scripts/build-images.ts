#!/usr/bin/env tsx
/**
 * `npm run images:build` — builds the local container images the container suite runs, without any image registry:
 * a Debian base (debootstrap from this machine's apt mirror, a JRE and python3), then Kafka, Apicurio Registry and
 * Spark images holding the same pinned artifacts the local runtime provisions. Cached: a second run takes seconds.
 *
 * Usage: npm run images:build [-- kafka registry spark node]   (default: all)
 * Image names: EMOSTREAM_BASE_IMAGE, EMOSTREAM_KAFKA_IMAGE, EMOSTREAM_REGISTRY_IMAGE, EMOSTREAM_SPARK_IMAGE,
 * EMOSTREAM_NODE_IMAGE.
 */
import path from 'node:path';
import { provisionImageArtifacts } from '../infra/images/artifacts.ts';
import { ensureBaseImage } from '../infra/images/base-image.ts';
import { docker } from '../infra/images/docker-cli.ts';
import { imageNames } from '../infra/images/image-names.ts';
import { ensureServiceImage, serviceImageSpecs } from '../infra/images/service-images.ts';
import { cacheDir } from '../infra/local/cache-dir.ts';

const started = Date.now();
const log = (line: string) => {
  process.stderr.write(`[images ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
};

async function main(): Promise<void> {
  const ids = ['kafka', 'registry', 'spark', 'node'];
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  for (const w of wanted) {
    if (!ids.includes(w)) throw new Error(`unknown image "${w}" (${ids.join(', ')})`);
  }
  try {
    await docker(['version', '--format', '{{.Server.Version}}']);
  } catch (error) {
    throw new Error(
      `no Docker daemon reachable (DOCKER_HOST=${process.env.DOCKER_HOST ?? 'default'}): start one, ` +
        `or run scripts/ci-containers.sh which starts its own`,
      { cause: error },
    );
  }
  const names = imageNames();
  const cache = cacheDir();
  log(`artifacts: provisioning through the local runtime (cached after the first run)`);
  const artifacts = await provisionImageArtifacts({
    skipSpark: wanted.length > 0 && !wanted.includes('spark'),
  });
  await ensureBaseImage({ name: names.base, cacheDir: cache, log });
  const specs = serviceImageSpecs(names, artifacts).filter(
    (s) => wanted.length === 0 || wanted.includes(s.id),
  );
  for (const spec of specs) {
    await ensureServiceImage(spec, names.base, path.join(cache, 'images'), log);
  }
  log(`done: ${[names.base, ...specs.map((s) => s.name)].join(', ')}`);
}

main().catch((error: unknown) => {
  log(`failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
