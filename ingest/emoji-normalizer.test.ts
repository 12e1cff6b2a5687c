import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createEmojiNormalizer, EmojiAllowlistError, fullyQualify } from './emoji-normalizer.ts';

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
    expect(normalizer.normalize(input)).toEqual({ ok: false, reason });
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
    expect(n.normalize('nope')).toEqual({ ok: false, reason: 'unknown_short_name' });
  });

  it('refuses an allowlist entry that is not an emoji', () => {
    expect(() => createEmojiNormalizer(['fire', 'not-an-emoji-at-all'])).toThrow(EmojiAllowlistError);
  });
});
