import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ProcessOutput, $ as zx } from 'zx';
import versions from '../../versions.json' with { type: 'json' };
import { type AptSource, findAptSource } from './apt-source.ts';
import { docker, imageLabels, streamLines } from './docker-cli.ts';

/** zx with the output captured, not echoed: a failure's ProcessOutput still carries its stderr. */
const $ = zx({ quiet: true });

/** Label on the base image holding the key of the recipe it was made from. */
export const BASE_KEY_LABEL = 'org.emostream.base-key';

/** What goes into the base root file system besides debootstrap's minimal base. */
export function basePackages(): string[] {
  return [`openjdk-${versions.requires.java}-jre-headless`, 'python3', 'procps', 'ca-certificates'];
}

export interface BaseImageOptions {
  /** Image name to create, e.g. `emostream/base:jre17-python3`. */
  name: string;
  /** Directory for the cached root file system tarball. */
  cacheDir: string;
  /** Progress printer. */
  log: (line: string) => void;
}

/** Key of the recipe: the same mirror, release, architecture and packages give the same root file system. */
export function baseKey(source: AptSource, arch: string, packages: string[]): string {
  const recipe = JSON.stringify({
    v: 1,
    uri: source.uri,
    suite: source.suite,
    arch,
    variant: 'minbase',
    packages,
  });
  return createHash('sha256').update(recipe).digest('hex').slice(0, 16);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/**
 * Makes sure the base image exists: Debian (the release and mirror this machine's apt uses) with a JRE and python3.
 * Three levels of cache: the image itself (labelled with the recipe key, a no-op), the root file system tarball in
 * the cache (an import, ~10 s), and only then debootstrap (minutes).
 */
export async function ensureBaseImage(options: BaseImageOptions): Promise<void> {
  const { name, cacheDir, log } = options;
  const source = await findAptSource();
  const arch = (await $`dpkg --print-architecture`).stdout.trim();
  const packages = basePackages();
  const key = baseKey(source, arch, packages);
  const labels = await imageLabels(name);
  if (labels?.[BASE_KEY_LABEL] === key) {
    log(`base image ${name} is up to date (${source.suite}/${arch}, key ${key})`);
    return;
  }
  const imagesDir = path.join(cacheDir, 'images');
  await mkdir(imagesDir, { recursive: true });
  const tarball = path.join(imagesDir, `rootfs-${source.suite}-${arch}-${key}.tar`);
  if (!(await exists(tarball))) {
    await debootstrap(source, arch, packages, imagesDir, tarball, log);
  } else {
    log(`root file system cached: ${path.basename(tarball)}`);
  }
  log(`importing ${path.basename(tarball)} as ${name}`);
  const javaHome = `/usr/lib/jvm/java-${versions.requires.java}-openjdk-${arch}`;
  await docker(
    [
      'import',
      '--change',
      `ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      '--change',
      `ENV JAVA_HOME=${javaHome}`,
      '--change',
      'ENV LANG=C.UTF-8',
      '--change',
      `LABEL ${BASE_KEY_LABEL}=${key}`,
      '--change',
      'CMD ["/bin/bash"]',
      '-',
      name,
    ],
    { input: createReadStream(tarball) },
  );
  log(`base image ${name} ready`);
}

async function debootstrap(
  source: AptSource,
  arch: string,
  packages: string[],
  workDir: string,
  tarball: string,
  log: (line: string) => void,
): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'building the base root file system runs debootstrap, which needs root: run `sudo -E npm run images:build` ' +
        '(once; later builds reuse the cached root file system) or scripts/ci-containers.sh as root',
    );
  }
  // Same file system as the cache, so the final rename is atomic and a cut-short run leaves no half tarball.
  const root = await mkdtemp(path.join(workDir, 'rootfs-'));
  try {
    log(`debootstrap ${source.suite} (${arch}, minbase + ${packages.join(', ')}) from ${source.uri}`);
    const args = [
      '--variant=minbase',
      `--arch=${arch}`,
      `--include=${packages.join(',')}`,
      '--components=main',
      source.suite,
      root,
      source.uri,
    ];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await streamLines(zx({ env, quiet: true })`debootstrap ${args}`, '  debootstrap| ').catch(
      (error: unknown) => {
        // The shell answers 127 for a program it cannot find.
        if (error instanceof ProcessOutput && error.exitCode === 127) {
          throw new Error('debootstrap is not installed: `apt-get install debootstrap`', { cause: error });
        }
        throw error;
      },
    );
    // Package caches and lists are dead weight in an image that never runs apt.
    for (const junk of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man']) {
      await rm(path.join(root, junk), { recursive: true, force: true });
    }
    log('packing the root file system');
    const partial = `${tarball}.partial`;
    await $`tar --numeric-owner --xattrs -C ${root} -cf ${partial} .`;
    await rename(partial, tarball);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
