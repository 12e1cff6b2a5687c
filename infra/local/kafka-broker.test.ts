import { describe, expect, it } from 'vitest';
import { brokerProperties } from './kafka-broker.ts';

describe('brokerProperties', () => {
  const props = brokerProperties('/data', { host: '127.0.0.1', port: 19092, controllerPort: 19093 });

  it('configures one combined KRaft node listening on loopback only', () => {
    expect(props['process.roles']).toBe('broker,controller');
    expect(props.listeners).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props['controller.quorum.bootstrap.servers']).toBe('127.0.0.1:19093');
    expect(props['log.dirs']).toBe('/data');
  });

  it('uses replication factor 1 for every internal topic of a single broker', () => {
    expect(props['offsets.topic.replication.factor']).toBe('1');
    expect(props['transaction.state.log.replication.factor']).toBe('1');
    expect(props['share.coordinator.state.topic.replication.factor']).toBe('1');
  });

  it('lets callers override any entry', () => {
    const custom = brokerProperties('/d', {
      host: '127.0.0.1',
      port: 1,
      controllerPort: 2,
      properties: { 'auto.create.topics.enable': false, 'num.partitions': 4 },
    });
    expect(custom['auto.create.topics.enable']).toBe('false');
    expect(custom['num.partitions']).toBe('4');
  });
});
