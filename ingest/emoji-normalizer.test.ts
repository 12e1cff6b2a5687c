import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createEmojiNormalizer,
  DEFAULT_EMOJI_ALIASES,
  EmojiAliasError,
  EmojiAllowlistError,
  fullyQualify,
  parseEmojiAliases,
  readEmojiAliases,
} from './emoji-normalizer.ts';

const normalizer = createEmojiNormalizer();

describe('emoji normalisation', () => {
  it.each([
    ['🔥', '🔥'],
    ['fire', '🔥'],
    [':fire:', '🔥'],
    ['FIRE', '🔥'],
    ['thumbs_up', '👍'],
    ['thumbsup', '👍'],
    ['+1', '👍'],
    [':+1:', '👍'],
    ['thumbs up', '👍'],
    ['thumbs-up', '👍'],
    ['👍️', '👍'],
    ['clap', '👏'],
    ['clapping_hands', '👏'],
    ['heart', '❤️'],
    ['❤', '❤️'],
    ['❤️', '❤️'],
    ['❤︎', '❤️'],
    ['red_heart', '❤️'],
    ['joy', '😂'],
    ['tada', '🎉'],
    ['100', '💯'],
    ['👍🏽', '👍🏽'],
    ['👍🏽\ufe0f', '👍🏽'],
    ['1⃣', '1️⃣'],
    ['🏳‍🌈', '🏳️‍🌈'],
    ['👩‍❤‍💋‍👨', '👩‍❤️‍💋‍👨'],
    ['🇫🇷', '🇫🇷'],
    ['©', '©️'],
  ])('%j → %j', (input, canonical) => {
    expect(normalizer.normalize(input)).toEqual({ ok: true, emoji: canonical });
  });

  it.each([
    ['🔥🔥', 'multiple_emoji'],
    ['👍 👏', 'multiple_emoji'],
    ['hello', 'unknown_short_name'],
    [':nope_nope:', 'unknown_short_name'],
    ['7', 'unknown_short_name'],
    ['x🔥', 'not_emoji'],
    ['\ud83d', 'not_emoji'],
    ['🇦', 'not_emoji'],
    ['', 'not_emoji'],
    ['<script>', 'not_emoji'],
  ])('%j is refused as %s', (input, reason) => {
    const r = normalizer.normalize(input);
    if (reason === 'unknown_short_name')
      expect(r).toEqual({ ok: false, reason, suggestions: expect.any(Array) });
    else expect(r).toEqual({ ok: false, reason });
  });

  it('gives every emojibase emoji a canonical form that Unicode calls fully-qualified (RGI)', () => {
    const data = createRequire(import.meta.url)('emojibase-data/en/data.json') as {
      emoji: string;
      group?: number;
      version: number;
      skins?: { emoji: string; version: number }[];
    }[];
    // The v flag is ES2024 (newer than the project's lib target) but Node 20 has it.
    const rgi = new RegExp('^\\p{RGI_Emoji}$', String('v'));
    const knownToThisNode = rgi.test('🫠'); // Emoji 14 — sanity check that the engine knows RGI at all
    expect(knownToThisNode).toBe(true);
    let checked = 0;
    for (const entry of data) {
      if (entry.group === undefined) continue;
      for (const e of [entry, ...(entry.skins ?? [])]) {
        const r = normalizer.normalize(e.emoji);
        expect(r.ok, e.emoji).toBe(true);
        // Node's ICU lags Unicode; compare only emoji at least a few versions old.
        if (r.ok && e.version <= 14) {
          expect(
            rgi.test(r.emoji),
            `${e.emoji} → ${[...r.emoji].map((c) => c.codePointAt(0)?.toString(16))}`,
          ).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it('fullyQualify adds VS16 only where the presentation needs it', () => {
    expect(fullyQualify('☝')).toBe('☝️');
    expect(fullyQualify('☝🏽')).toBe('☝🏽');
    expect(fullyQualify('🔥')).toBe('🔥');
  });
});

describe('emoji allowlist', () => {
  it('accepts only the palette, given in any spelling', () => {
    const n = createEmojiNormalizer(['fire', '👍️', ':clap:']);
    expect([...(n.allowlist ?? [])]).toEqual(['🔥', '👍', '👏']);
    expect(n.normalize('🔥')).toEqual({ ok: true, emoji: '🔥' });
    expect(n.normalize('+1')).toEqual({ ok: true, emoji: '👍' });
    expect(n.normalize('😂')).toEqual({ ok: false, reason: 'not_allowed' });
    expect(n.normalize('nope')).toEqual({ ok: false, reason: 'unknown_short_name', suggestions: [] });
  });

  it('suggests only names of the palette', () => {
    const n = createEmojiNormalizer(['fire', 'clap']);
    expect(n.normalize('clapp')).toEqual({ ok: false, reason: 'unknown_short_name', suggestions: ['clap'] });
    // `clamp` (🗜️) is as near as `flame` but not in the palette.
    expect(n.normalize('flamp')).toEqual({
      ok: false,
      reason: 'unknown_short_name',
      suggestions: ['flame', 'clap'],
    });
  });

  it('refuses an allowlist entry that is not an emoji', () => {
    expect(() => createEmojiNormalizer(['fire', 'not-an-emoji-at-all'])).toThrow(EmojiAllowlistError);
  });
});

describe('emoji aliases (names reaction buttons send)', () => {
  it.each([
    ['like', '👍'],
    [':like:', '👍'],
    ['LIKE', '👍'],
    ['dislike', '👎'],
    ['love', '❤️'],
    ['haha', '😆'],
    ['laugh', '😆'],
    ['wow', '😮'],
    ['sad', '😢'],
    ['applause', '👏'],
    ['goal', '⚽'],
    ['yellow card', '🟨'],
    ['red-card', '🟥'],
    ['Thank You', '🙏'],
    ['thumbup', '👍'],
  ])('%j → %j', (input, canonical) => {
    expect(normalizer.normalize(input)).toEqual({ ok: true, emoji: canonical });
  });

  it('keeps the built-in table to names the short-name tables lack, each mapped to one emoji', () => {
    const file = JSON.parse(readFileSync(DEFAULT_EMOJI_ALIASES, 'utf8')) as {
      aliases: Record<string, string | { emoji: string; why: string }>;
    };
    const tablesOnly = createEmojiNormalizer(undefined, { aliases: { aliases: {}, replace: true } });
    const names = Object.keys(file.aliases);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) {
      // An alias that shadowed a table name would silently change what that name meant.
      expect(tablesOnly.normalize(name), name).toMatchObject({ ok: false, reason: 'unknown_short_name' });
      const entry = file.aliases[name];
      const emoji = typeof entry === 'string' ? entry : entry?.emoji;
      expect(normalizer.normalize(name), name).toEqual(normalizer.normalize(emoji ?? ''));
      if (typeof entry === 'object') expect(entry.why.length, name).toBeGreaterThan(10);
    }
  });

  it('lets an operator table add names, override table names, or replace the built-in table', () => {
    const extra = parseEmojiAliases(
      '{"aliases": {"football": "⚽", "bigup": {"emoji": "🙌", "why": "UK slang"}}}',
      'x',
    );
    const n = createEmojiNormalizer(undefined, { aliases: extra });
    expect(normalizer.normalize('football')).toEqual({ ok: true, emoji: '🏈' });
    expect(n.normalize('football')).toEqual({ ok: true, emoji: '⚽' });
    expect(n.normalize('bigup')).toEqual({ ok: true, emoji: '🙌' });
    expect(n.normalize('like')).toEqual({ ok: true, emoji: '👍' });

    const only = createEmojiNormalizer(undefined, {
      aliases: parseEmojiAliases('{"replace": true, "aliases": {"bigup": "🙌"}}', 'x'),
    });
    expect(only.normalize('bigup')).toEqual({ ok: true, emoji: '🙌' });
    expect(only.normalize('like')).toMatchObject({ ok: false, reason: 'unknown_short_name' });
    expect(only.normalize('fire')).toEqual({ ok: true, emoji: '🔥' });
  });

  it.each([
    ['not json', /t\.json is not JSON/],
    ['[]', /t\.json must be an object with an "aliases" object/],
    ['{"aliases": {}, "replace": "yes"}', /"replace" must be true or false/],
    ['{"aliases": {"wave:": "👋"}}', /alias "wave:" is not a short name/],
    ['{"aliases": {"big up!": "🙌"}}', /alias "big up!" is not a short name/],
    ['{"aliases": {"nope": "fire"}}', /alias "nope" must map to one emoji .* got "fire"/],
    ['{"aliases": {"nope": "🔥🔥"}}', /alias "nope" must map to one emoji/],
    ['{"aliases": {"nope": {"why": "no emoji"}}}', /alias "nope" must map to one emoji/],
  ])('refuses the table %s', (text, message) => {
    expect(() => parseEmojiAliases(text, 't.json')).toThrow(EmojiAliasError);
    expect(() => parseEmojiAliases(text, 't.json')).toThrow(message);
  });

  const dir = mkdtempSync(path.join(tmpdir(), 'emoji-aliases-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a table from a file, and names a file it cannot read', () => {
    const file = path.join(dir, 'aliases.json');
    writeFileSync(file, '{"aliases": {"bigup": "🙌"}}');
    expect(readEmojiAliases(file)).toEqual({ aliases: { bigup: '🙌' }, replace: false });
    expect(() => readEmojiAliases(path.join(dir, 'missing.json'))).toThrow(/cannot read .*missing\.json/);
  });
});

describe('suggestions for an unknown short name', () => {
  it.each([
    ['thumbsupp', 'thumbsup'],
    [':firee:', 'fire'],
    ['fier', 'fire'],
    ['lke', 'like'],
    ['applaus', 'applause'],
    ['clapp', 'clap'],
    ['Thumbs upp', 'thumbs_up'],
  ])('%j → %j first', (input, best) => {
    const r = normalizer.normalize(input);
    expect(r).toMatchObject({ ok: false, reason: 'unknown_short_name' });
    const suggestions = r.ok ? [] : (r.suggestions ?? []);
    expect(suggestions[0]).toBe(best);
    expect(suggestions.length).toBeLessThanOrEqual(3);
    // Every suggestion is itself accepted.
    for (const s of suggestions) expect(normalizer.normalize(s).ok, s).toBe(true);
  });

  it('suggests nothing for a name far from every known one', () => {
    expect(normalizer.normalize('qqqqqqqqqqqqxz')).toEqual({
      ok: false,
      reason: 'unknown_short_name',
      suggestions: [],
    });
  });

  it('scans at most 100 new names a second; repeats come from the cache', () => {
    let clock = 5_000;
    const n = createEmojiNormalizer(undefined, { now: () => clock });
    const suggestionsOf = (name: string) => {
      const r = n.normalize(name);
      return r.ok ? undefined : r.suggestions;
    };
    expect(suggestionsOf('thumbsupp')).toEqual(['thumbsup', 'thumbs_up', 'thumb_up']);
    for (let i = 1; i < 100; i++) suggestionsOf(`zz${i}zz`);
    expect(suggestionsOf('fier')).toEqual([]);
    expect(suggestionsOf('thumbsupp')).toEqual(['thumbsup', 'thumbs_up', 'thumb_up']);
    clock += 1000;
    expect(suggestionsOf('fier')?.[0]).toBe('fire');
  });
});
