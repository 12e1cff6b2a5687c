import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { $ as zx } from 'zx';
import type { ImageArtifacts } from './artifacts.ts';
import { docker, imageId, imageLabels } from './docker-cli.ts';
import type { ImageNames } from './image-names.ts';

/** zx with the output captured, not echoed: a failure's ProcessOutput still carries its stderr. */
const $ = zx({ quiet: true });

/** Label on each service image holding the key of everything it was built from. */
export const INPUTS_LABEL = 'org.emostream.inputs';

/** `infra/images`: one directory per image with its Dockerfile and small files. */
export const recipesDir = fileURLToPath(new URL('./', import.meta.url));

/** One image to build: a recipe directory plus artifacts placed into the build context. */
export interface ImageSpec {
  /** Short name for progress lines. */
  id: 'kafka' | 'registry' | 'spark' | 'node';
  /** Final image name. */
  name: string;
  /** Directory under infra/images. */
  recipe: string;
  /** Artifacts (files or directories) and where they go in the build context. */
  context: { from: string; to: string }[];
}

/** The service images: Kafka, registry and Spark from the runtime's artifacts, and Node.js for our services. */
export function serviceImageSpecs(names: ImageNames, artifacts: ImageArtifacts): ImageSpec[] {
  return [
    { id: 'kafka', name: names.kafka, recipe: 'kafka', context: [{ from: artifacts.kafkaLibs, to: 'libs' }] },
    {
      id: 'registry',
      name: names.registry,
      recipe: 'apicurio-registry',
      context: [
        { from: artifacts.registryApp, to: 'app' },
        { from: artifacts.registryJdkHome, to: 'jdk' },
      ],
    },
    {
      id: 'spark',
      name: names.spark,
      recipe: 'spark',
      context: [
        { from: artifacts.pysparkDir, to: 'python/pyspark' },
        { from: artifacts.py4jDir, to: 'python/py4j' },
        { from: artifacts.sparkJars, to: 'jars' },
      ],
    },
    {
      id: 'node',
      name: names.node,
      recipe: 'node',
      context: [{ from: realpathSync(process.execPath), to: 'node' }],
    },
  ];
}

/**
 * Fingerprint of a file tree by path, size and modification time (not content: hashing half a gigabyte of
 * Spark jars on every run would cost the seconds the cache is meant to save). `__pycache__` is left out: Python
 * writes it on import, which must not invalidate an image.
 */
async function fingerprintTree(root: string, hash: ReturnType<typeof createHash>, rel = ''): Promise<void> {
  const here = path.join(root, rel);
  const info = await lstat(here);
  if (info.isDirectory()) {
    hash.update(`d ${rel}\n`);
    for (const entry of (await readdir(here)).sort()) {
      if (entry === '__pycache__') continue;
      await fingerprintTree(root, hash, path.join(rel, entry));
    }
  } else {
    hash.update(`f ${rel} ${info.size} ${Math.trunc(info.mtimeMs)}\n`);
  }
}

/** Key of an image's inputs: the base image id, the recipe files (by content) and the artifacts (by metadata). */
export async function inputsKey(spec: ImageSpec, baseId: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`base ${baseId}\n`);
  const recipeDir = path.join(recipesDir, spec.recipe);
  for (const entry of (await readdir(recipeDir)).sort()) {
    hash.update(`recipe ${entry}\n`);
    hash.update(await readFile(path.join(recipeDir, entry)));
  }
  for (const item of spec.context) {
    hash.update(`artifact ${item.to}\n`);
    await fingerprintTree(item.from, hash);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Builds one service image unless an image with the same inputs key already exists. The build context is made of
 * hard links where the file system allows (instant, no extra space), copies otherwise. Returns whether it built.
 */
export async function ensureServiceImage(
  spec: ImageSpec,
  baseName: string,
  workDir: string,
  log: (line: string) => void,
): Promise<boolean> {
  const key = await inputsKey(spec, await imageId(baseName));
  const labels = await imageLabels(spec.name);
  if (labels?.[INPUTS_LABEL] === key) {
    log(`${spec.id}: ${spec.name} is up to date (inputs ${key})`);
    return false;
  }
  await mkdir(workDir, { recursive: true });
  const context = await mkdtemp(path.join(workDir, `context-${spec.id}-`));
  try {
    await $`cp -a ${`${path.join(recipesDir, spec.recipe)}/.`} ${context}`;
    for (const item of spec.context) {
      const target = path.join(context, item.to);
      await mkdir(path.dirname(target), { recursive: true });
      // Hard links first: same content, no copy. Across file systems (EXDEV) fall back to a real copy.
      await $`cp -al ${item.from} ${target}`.catch(() => $`cp -a ${item.from} ${target}`);
    }
    log(`${spec.id}: building ${spec.name} (inputs ${key})`);
    await docker(
      [
        'build',
        '--network',
        'host',
        '--build-arg',
        `BASE=${baseName}`,
        '--label',
        `${INPUTS_LABEL}=${key}`,
        '--tag',
        spec.name,
        context,
      ],
      {
        progress: `  ${spec.id}| `,
        // Keep the "Step n/m" lines; drop intermediate ids and the classic builder's deprecation notice.
        quiet:
          /^\s*(--->|Removing intermediate|DEPRECATED|BuildKit is|environment-variable|Successfully built)/,
      },
    );
    return true;
  } finally {
    await rm(context, { recursive: true, force: true });
  }
}
