import { Writable } from 'node:stream';
import type { Admin } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import {
  brokerList,
  ensureTopic,
  KafkaLogLevel,
  kafkaLevelFor,
  kafkaLogCreator,
  pinoLevelOf,
} from './kafka.ts';

/** A pino logger at `level` whose JSON lines land in `lines`. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level, base: null }, sink), lines };
}

describe('kafkajs → pino log bridge', () => {
  it('maps ERROR→error, WARN→warn, INFO→debug, DEBUG→trace', () => {
    expect(pinoLevelOf(KafkaLogLevel.ERROR)).toBe('error');
    expect(pinoLevelOf(KafkaLogLevel.WARN)).toBe('warn');
    expect(pinoLevelOf(KafkaLogLevel.INFO)).toBe('debug');
    expect(pinoLevelOf(KafkaLogLevel.DEBUG)).toBe('trace');
  });

  it('writes an entry with its message, namespace and fields at the mapped level', () => {
    const { logger, lines } = capture('trace');
    const log = kafkaLogCreator(logger)(KafkaLogLevel.DEBUG);
    const entry = (level: KafkaLogLevel, message: string) =>
      log({
        namespace: 'Consumer',
        level,
        label: KafkaLogLevel[level] ?? '',
        log: { timestamp: 'now', logger: 'kafkajs', message, groupId: 'g1' },
      });
    entry(KafkaLogLevel.ERROR, 'crashed');
    entry(KafkaLogLevel.WARN, 'slow');
    entry(KafkaLogLevel.INFO, 'joined the group');
    entry(KafkaLogLevel.DEBUG, 'request');
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, 'crashed'],
      [40, 'slow'],
      [20, 'joined the group'],
      [10, 'request'],
    ]);
    // kafkajs' own timestamp and logger name are not repeated beside pino's.
    expect(lines[0]).toMatchObject({ namespace: 'Consumer', groupId: 'g1' });
    expect(lines[0]).not.toHaveProperty('logger');
    expect(lines[0]).not.toHaveProperty('timestamp');
  });

  it('keeps kafkajs INFO out of an info-level service log', () => {
    const { logger, lines } = capture('info');
    const log = kafkaLogCreator(logger)(KafkaLogLevel.INFO);
    log({
      namespace: 'Runner',
      level: KafkaLogLevel.INFO,
      label: 'INFO',
      log: { message: 'rebalancing' } as never,
    });
    expect(lines).toEqual([]);
  });

  it('asks kafkajs for exactly the levels the logger prints', () => {
    const at = (level: string) => kafkaLevelFor(pino({ level }));
    expect(at('trace')).toBe(KafkaLogLevel.DEBUG);
    expect(at('debug')).toBe(KafkaLogLevel.INFO);
    expect(at('info')).toBe(KafkaLogLevel.WARN);
    expect(at('warn')).toBe(KafkaLogLevel.WARN);
    expect(at('error')).toBe(KafkaLogLevel.ERROR);
    expect(at('silent')).toBe(KafkaLogLevel.NOTHING);
  });
});

describe('brokerList', () => {
  it('takes the KAFKA_BROKERS form or a list', () => {
    expect(brokerList('a:1, b:2,')).toEqual(['a:1', 'b:2']);
    expect(brokerList(['a:1'])).toEqual(['a:1']);
  });
});

describe('ensureTopic with alterConfigs', () => {
  /** An admin holding one existing topic with per-topic overrides (source 1) and a broker default (source 5). */
  function fakeAdmin(entries: { configName: string; configValue: string; configSource: number }[]) {
    const altered: unknown[] = [];
    const admin = {
      listTopics: async () => ['t'],
      createTopics: async () => true,
      fetchTopicMetadata: async () => ({
        topics: [{ name: 't', partitions: [{ leader: 1 }, { leader: 1 }] }],
      }),
      describeConfigs: async () => ({ resources: [{ resourceName: 't', configEntries: entries }] }),
      alterConfigs: async (req: unknown) => {
        altered.push(req);
      },
    };
    return { admin: admin as unknown as Admin, altered };
  }
  const entries = [
    { configName: 'max.message.bytes', configValue: '2000000', configSource: 1 },
    { configName: 'retention.ms', configValue: '1000', configSource: 1 },
    { configName: 'segment.bytes', configValue: '1073741824', configSource: 5 },
  ];

  it('alters a differing config and sends the topic’s other overrides along (AlterConfigs replaces them all)', async () => {
    const { admin, altered } = fakeAdmin(entries);
    const spec = {
      topic: 't',
      partitions: 2,
      configs: { 'retention.ms': '6000', 'segment.bytes': '1048576' },
    };
    await ensureTopic(admin, spec, { alterConfigs: true });
    expect(altered).toEqual([
      {
        validateOnly: false,
        resources: [
          {
            type: 2,
            name: 't',
            configEntries: [
              { name: 'max.message.bytes', value: '2000000' },
              { name: 'retention.ms', value: '6000' },
              { name: 'segment.bytes', value: '1048576' },
            ],
          },
        ],
      },
    ]);
  });

  it('leaves a topic alone when its configs already match, or when not asked to align', async () => {
    const same = fakeAdmin(entries);
    await ensureTopic(
      same.admin,
      { topic: 't', partitions: 2, configs: { 'retention.ms': '1000' } },
      { alterConfigs: true },
    );
    expect(same.altered).toEqual([]);
    const off = fakeAdmin(entries);
    await ensureTopic(off.admin, { topic: 't', partitions: 2, configs: { 'retention.ms': '6000' } });
    expect(off.altered).toEqual([]);
  });
});
