import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.ts';
import { DEFAULT_DRIVER_MEMORY, loadJobsConfig } from './jobs-config.ts';
import { driverClassArchive, runnerArgs } from './spark-job.ts';

describe('loadJobsConfig', () => {
  it('names every bad variable in one ConfigError, the format of every service', () => {
    let error: unknown;
    try {
      loadJobsConfig({
        KAFKA_BROKERS: 'a b',
        SPARK_UI_PORT: 'eighty',
        SPARK_STARTING_OFFSETS: 'middle',
        SPARK_DRIVER_MEMORY: '1 GB',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => i.variable);
    expect(issues).toEqual(
      expect.arrayContaining([
        'KAFKA_BROKERS',
        'SPARK_UI_PORT',
        'SPARK_STARTING_OFFSETS',
        'SPARK_DRIVER_MEMORY',
      ]),
    );
    expect((error as Error).message).toMatch(/^invalid Spark job configuration:\n {2}- /);
  });

  it("passes the driver's heap to spark-submit: the laptop default, or SPARK_DRIVER_MEMORY", () => {
    const rt = { sparkSubmit: 'spark-submit', python: 'python3', jars: [], env: {}, version: '4.0.0' };
    const heap = (env: NodeJS.ProcessEnv) =>
      runnerArgs(rt, 'local[2]', ['stream'], { driverMemory: loadJobsConfig(env).driverMemory }).find((a) =>
        a.startsWith('spark.driver.memory='),
      );
    expect(heap({})).toBe(`spark.driver.memory=${DEFAULT_DRIVER_MEMORY}`);
    expect(heap({ SPARK_DRIVER_MEMORY: '2g' })).toBe('spark.driver.memory=2g');
  });

  it('maps any <NAME>_TOPIC to its logical name, next to the defaults', () => {
    const config = loadJobsConfig({ TRENDS_TOPIC: 'my.trends', AGGREGATES_TOPIC: 'my.aggregates' });
    expect(config.topics).toMatchObject({
      trends: 'my.trends',
      aggregates: 'my.aggregates',
      reactions: 'emoji.reactions.v1',
    });
  });
});

describe('driverClassArchive', () => {
  it("writes the driver's class archive at the first exit, maps it afterwards, and keys it by JDK, Spark and jars", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emostream-cds-'));
    try {
      const rt = {
        sparkSubmit: 's',
        python: 'p',
        jars: ['/a.jar'],
        env: { JAVA_HOME: '/jdk17' },
        version: '4.0.0',
      };
      const [first] = driverClassArchive(dir, rt);
      expect(first).toMatch(/^-XX:ArchiveClassesAtExit=.*driver-classes-[0-9a-f]{12}\.jsa$/);
      const archive = (first ?? '').split('=')[1] ?? '';
      expect(path.dirname(archive)).toBe(dir);
      writeFileSync(archive, 'archive');
      expect(driverClassArchive(dir, rt)).toEqual([`-XX:SharedArchiveFile=${archive}`]);
      // Another JDK: a new archive, not one the JVM would refuse.
      expect(driverClassArchive(dir, { ...rt, env: { JAVA_HOME: '/jdk21' } })[0]).toMatch(
        /^-XX:ArchiveClassesAtExit=/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
