import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/env.ts';
import {
  brokerRetentionProperties,
  DEFAULT_RETENTION,
  retentionFrom,
  segmentMs,
  topicRetentionConfigs,
} from './retention.ts';

const MiB = 1024 * 1024;

describe('retention settings', () => {
  it('defaults to 6 h, 64 MiB per partition and 16 MiB segments: about 35 partitions stay under 3 GB', () => {
    expect(DEFAULT_RETENTION).toEqual({
      retentionMs: 6 * 3_600_000,
      retentionBytes: 64 * MiB,
      segmentBytes: 16 * MiB,
    });
    const worstCase = 35 * (DEFAULT_RETENTION.retentionBytes + DEFAULT_RETENTION.segmentBytes);
    expect(worstCase).toBeLessThan(3e9);
  });

  it('takes flags over the environment and names a bad variable', () => {
    const s = retentionFrom(
      { 'retention-bytes': 2 * MiB },
      { EMOSTREAM_RETENTION_MS: '120000', EMOSTREAM_RETENTION_BYTES: '9' },
    );
    expect(s).toEqual({ retentionMs: 120_000, retentionBytes: 2 * MiB, segmentBytes: 16 * MiB });
    expect(() => retentionFrom({}, { EMOSTREAM_SEGMENT_BYTES: 'lots' })).toThrow(ConfigError);
    expect(() => retentionFrom({}, { EMOSTREAM_SEGMENT_BYTES: 'lots' })).toThrow(/EMOSTREAM_SEGMENT_BYTES/);
  });

  it('rolls segments often enough for time retention to delete, within 1 min to 1 h', () => {
    expect(segmentMs(DEFAULT_RETENTION)).toBe(3_600_000);
    expect(segmentMs({ ...DEFAULT_RETENTION, retentionMs: 600_000 })).toBe(100_000);
    expect(segmentMs({ ...DEFAULT_RETENTION, retentionMs: 60_000 })).toBe(60_000);
  });

  it('gives topics and the broker the same bound', () => {
    const topic = topicRetentionConfigs(DEFAULT_RETENTION);
    const broker = brokerRetentionProperties(DEFAULT_RETENTION);
    expect(topic['retention.bytes']).toBe(broker['log.retention.bytes']);
    expect(topic['retention.ms']).toBe(broker['log.retention.ms']);
    expect(topic['segment.bytes']).toBe(broker['log.segment.bytes']);
    expect(topic['segment.ms']).toBe(broker['log.roll.ms']);
  });
});
