import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { ConfigError } from './errors.ts';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9093',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
};

describe('ingest config', () => {
  it('applies defaults', () => {
    const c = loadConfig(base);
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      topic: 'emoji.reactions.v1',
      skewAheadMs: 30_000,
    });
    expect(c.skewBehindMs).toBe(300_000);
    expect(c.flushIntervalMs).toBeLessThanOrEqual(500);
  });

  it('names every bad key in one error', () => {
    try {
      loadConfig({ SCHEMA_REGISTRY_URL: 'not a url', INGEST_FLUSH_INTERVAL_MS: '900', INGEST_PORT: 'x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const keys = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'INGEST_FLUSH_INTERVAL_MS', 'INGEST_PORT'];
      expect((err as ConfigError).issues.map((i) => i.variable).sort()).toEqual([...keys].sort());
      const msg = (err as Error).message;
      expect(msg.split('\n')[0]).toBe('invalid ingest configuration:');
      for (const key of keys) expect(msg).toContain(`  - ${key}: `);
    }
  });

  it('names every bad allowlist entry under INGEST_EMOJI_ALLOWLIST, before ingest is built', () => {
    let error: unknown;
    try {
      loadConfig({ ...base, INGEST_EMOJI_ALLOWLIST: 'fire, not-an-emoji, 🔥🔥' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues;
    expect(issues.map((i) => i.variable)).toEqual(['INGEST_EMOJI_ALLOWLIST', 'INGEST_EMOJI_ALLOWLIST']);
    expect(issues[0]?.message).toContain('"not-an-emoji"');
    expect(issues[1]?.message).toContain('"🔥🔥"');
  });

  it('refuses a default match id no viewer could join', () => {
    expect(() => loadConfig({ ...base, INGEST_DEFAULT_MATCH_ID: '_hidden' })).toThrow(
      /INGEST_DEFAULT_MATCH_ID/,
    );
    expect(loadConfig({ ...base, INGEST_DEFAULT_MATCH_ID: 'team@home' }).defaultMatchId).toBe('team@home');
  });

  it('reads the allowlist as a list', () => {
    expect(loadConfig({ ...base, INGEST_EMOJI_ALLOWLIST: 'fire, 👍 ,clap' }).emojiAllowlist).toEqual([
      'fire',
      '👍',
      'clap',
    ]);
  });

  const dir = mkdtempSync(path.join(tmpdir(), 'ingest-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the alias table INGEST_EMOJI_ALIASES names, and names the key when the table is bad', () => {
    expect(loadConfig(base).emojiAliases).toBeUndefined();
    const good = path.join(dir, 'good.json');
    writeFileSync(good, '{"aliases": {"bigup": "🙌"}}');
    expect(loadConfig({ ...base, INGEST_EMOJI_ALIASES: good }).emojiAliases).toEqual({
      aliases: { bigup: '🙌' },
      replace: false,
    });
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{"aliases": {"bigup": "big up"}}');
    expect(() => loadConfig({ ...base, INGEST_EMOJI_ALIASES: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, INGEST_EMOJI_ALIASES: bad })).toThrow(
      /INGEST_EMOJI_ALIASES: .*bad\.json: alias "bigup" must map to one emoji/,
    );
  });
});
