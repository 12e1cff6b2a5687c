import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/env.ts';
import { loadJobsConfig } from './jobs-config.ts';

describe('loadJobsConfig', () => {
  it('names every bad variable in one ConfigError, the format of every service', () => {
    let error: unknown;
    try {
      loadJobsConfig({ KAFKA_BROKERS: 'a b', SPARK_UI_PORT: 'eighty', SPARK_STARTING_OFFSETS: 'middle' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => i.variable);
    expect(issues).toEqual(
      expect.arrayContaining(['KAFKA_BROKERS', 'SPARK_UI_PORT', 'SPARK_STARTING_OFFSETS']),
    );
    expect((error as Error).message).toMatch(/^invalid Spark job configuration:\n {2}- /);
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
