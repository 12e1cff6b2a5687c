import { homedir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir, runtimePaths } from './cache-dir.ts';
import { loadVersions } from './versions.ts';

describe('cacheDir', () => {
  it('prefers EMOSTREAM_CACHE, then XDG_CACHE_HOME/emostream, then ~/.cache/emostream', () => {
    expect(cacheDir({ EMOSTREAM_CACHE: '/x/cache', XDG_CACHE_HOME: '/y' })).toBe(path.resolve('/x/cache'));
    expect(cacheDir({ XDG_CACHE_HOME: '/y' })).toBe(path.join('/y', 'emostream'));
    expect(cacheDir({})).toBe(path.join(homedir(), '.cache', 'emostream'));
  });

  it('derives every component directory from the pinned versions', () => {
    const v = loadVersions();
    const p = runtimePaths(v, '/c');
    expect(p.kafkaLibs).toBe(path.join('/c', `kafka-${v.kafka.version}`, 'libs'));
    expect(p.sparkVenv).toBe(path.join('/c', `spark-${v.spark.pyspark}`, 'venv'));
    expect(p.sparkJars).toBe(path.join('/c', `spark-${v.spark.pyspark}`, 'jars'));
    expect(p.registryHome).toBe(path.join('/c', `apicurio-registry-${v.apicurioRegistry.version}`));
  });
});
