import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.ts';
import { DEFAULT_DRIVER_MEMORY, loadJobsConfig } from './jobs-config.ts';
import { runnerArgs } from './spark-job.ts';

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
      runnerArgs(rt, 'local[2]', ['stream'], loadJobsConfig(env).driverMemory).find((a) =>
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
