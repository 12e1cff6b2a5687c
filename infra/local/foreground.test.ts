import { describe, expect, it } from 'vitest';
import { portsFrom } from './foreground.ts';

describe('portsFrom', () => {
  it('defaults to 9092/9093/8081/8080', () => {
    expect(portsFrom({}, {})).toEqual({ kafka: 9092, kafkaController: 9093, registry: 8081, ingest: 8080 });
  });

  it('takes flags over environment variables', () => {
    const ports = portsFrom({ 'kafka-port': 19092 }, { KAFKA_PORT: '29092', SCHEMA_REGISTRY_PORT: '18081' });
    expect(ports.kafka).toBe(19092);
    expect(ports.registry).toBe(18081);
  });

  it('names the bad option', () => {
    expect(() => portsFrom({ 'registry-port': 'abc' }, {})).toThrow(/--registry-port must be a port number/);
    expect(() => portsFrom({}, { INGEST_PORT: '70000' })).toThrow(/--ingest-port/);
  });
});
