import { describe, expect, it } from 'vitest';
import {
  clusterPublisherConfigFromEnv,
  clusterTopic,
  mainPublisherConfigFromEnv,
  subscriberNodeConfigFromEnv,
} from './config.ts';
import { ConfigError } from './errors.ts';

describe('fan-out configuration', () => {
  it('reads the main publisher with defaults', () => {
    const config = mainPublisherConfigFromEnv({
      KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
    });
    expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
    expect(config.host).toBe('127.0.0.1');
    expect(config.aggregatesTopic).toBe('emoji.aggregates.v1');
    expect(clusterTopic(config.topicPrefix, 'c1')).toBe('emoji.fanout.v1.c1');
  });

  it('names every bad key in one error', () => {
    let error: unknown;
    try {
      clusterPublisherConfigFromEnv({
        KAFKA_BROKERS: '',
        CLUSTER_ID: 'Bad Id',
        CLUSTER_PUBLISHER_PORT: '70000',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'CLUSTER_ID', 'CLUSTER_PUBLISHER_PORT'];
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual([...keys].sort());
    // The same format as ingest's: a header line, then one `  - VARIABLE: message` line per bad variable.
    const message = (error as Error).message;
    expect(message.split('\n')[0]).toBe('invalid fan-out cluster publisher configuration:');
    for (const key of keys) expect(message).toContain(`  - ${key}: `);
  });

  it('requires the publisher and directory URLs of a subscriber node and validates its bounds', () => {
    expect(() => subscriberNodeConfigFromEnv({ CLUSTER_ID: 'c1' })).toThrow(
      /CLUSTER_PUBLISHER_URL.*\n.*DIRECTORY_URL/,
    );
    expect(() =>
      subscriberNodeConfigFromEnv({
        CLUSTER_ID: 'c1',
        CLUSTER_PUBLISHER_URL: 'http://127.0.0.1:1',
        DIRECTORY_URL: 'http://127.0.0.1:2',
        MAX_ROOMS_PER_SOCKET: '0',
      }),
    ).toThrow(/MAX_ROOMS_PER_SOCKET/);
    const config = subscriberNodeConfigFromEnv({
      CLUSTER_ID: 'c1',
      CLUSTER_PUBLISHER_URL: 'http://127.0.0.1:1',
      DIRECTORY_URL: 'http://127.0.0.1:2',
    });
    expect(config.nodeId).toMatch(/^c1-/);
    expect(() =>
      subscriberNodeConfigFromEnv({
        CLUSTER_ID: 'c1',
        CLUSTER_PUBLISHER_URL: 'http://127.0.0.1:1',
        DIRECTORY_URL: 'http://127.0.0.1:2',
        NODE_ID: 'bad id',
      }),
    ).toThrow(/NODE_ID/);
    expect(config.viewerToken).toBeUndefined();
  });
});
