import { describe, expect, it } from 'vitest';
import { ID_RULE } from '../common/ids.ts';
import { createEmojiNormalizer } from './emoji-normalizer.ts';
import { createReactionValidator, parseTimestamp } from './reaction-validator.ts';

const NOW = Date.UTC(2026, 2, 1, 20, 15, 0, 0);
const validator = createReactionValidator({
  normalizer: createEmojiNormalizer(),
  defaultMatchId: 'default-match',
  skewAheadMs: 30_000,
  skewBehindMs: 300_000,
  maxBatchItems: 3,
  now: () => NOW,
});

describe('parseTimestamp', () => {
  it.each([
    ['2026-03-01T20:15:00Z', NOW],
    ['2026-03-01T20:15:00.123Z', NOW + 123],
    ['2026-03-01T20:15:00.123456789Z', NOW + 123],
    ['2026-03-01T20:15:00.1Z', NOW + 100],
    ['2026-03-01T20:15:00,5Z', NOW + 500],
    ['2026-03-01T20:15:00', NOW],
    ['2026-03-01 20:15:00.123456', NOW + 123],
    ['2026-03-01T20:15', NOW],
    ['2026-03-01t20:15:00z', NOW],
    ['2026-03-01T21:15:00+01:00', NOW],
    ['2026-03-01T21:15:00+0100', NOW],
    ['2026-03-01T21:15:00+01', NOW],
    ['2026-03-01T14:45:00-05:30', NOW],
    [NOW, NOW],
    [NOW / 1000, NOW],
    [NOW / 1000 + 0.25, NOW + 250],
    [String(NOW), NOW],
    [String(NOW / 1000), NOW],
  ])('%j → %d', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });

  it.each([
    '2026-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-03-01T24:00:00Z',
    '2026-03-01T20:60:00Z',
    '2026-03-01T20:15:61Z',
    '2026-03-01T20:15:00+25:00',
    '2026-03-01',
    'March 1, 2026',
    '',
    '1e12',
    '-1',
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -5,
  ])('%j is not a timestamp', (input) => {
    expect(parseTimestamp(input)).toBeUndefined();
  });

  it('accepts 29 February in leap years only', () => {
    expect(parseTimestamp('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
  });
});

describe('reaction validation', () => {
  const ok = { match_id: 'm-1', user_id: 'u-1', emoji: ':fire:', timestamp: '2026-03-01T20:14:00Z' };

  it('normalises a good reaction', () => {
    expect(validator.reaction({ ...ok, user_id: 1234567 })).toEqual({
      ok: true,
      value: { match_id: 'm-1', user_id: '1234567', emoji: '🔥', client_ts: NOW - 60_000 },
    });
  });

  it('enforces the skew bounds at their edges', () => {
    expect(validator.reaction({ ...ok, timestamp: NOW + 30_000 }).ok).toBe(true);
    expect(validator.reaction({ ...ok, timestamp: NOW + 30_001 }).ok).toBe(false);
    expect(validator.reaction({ ...ok, timestamp: NOW - 300_000 }).ok).toBe(true);
    expect(validator.reaction({ ...ok, timestamp: NOW - 300_001 }).ok).toBe(false);
  });

  it('names every bad field once', () => {
    const r = validator.reaction({ match_id: 'x'.repeat(65), user_id: 'a b', emoji: '🔥🔥', extra: 1 });
    expect(r).toEqual({
      ok: false,
      problems: [
        { field: 'match_id', code: 'too_long', detail: 'must be at most 64 characters' },
        {
          field: 'user_id',
          code: 'invalid_characters',
          detail: `must be ${ID_RULE}`,
        },
        { field: 'emoji', code: 'multiple_emoji', detail: 'must be exactly one emoji' },
        { field: 'timestamp', code: 'required', detail: 'is required' },
        { field: 'extra', code: 'unknown_field', detail: 'is not a known field' },
      ],
    });
  });

  it('does not let __proto__ through or pollute prototypes', () => {
    const body = JSON.parse(
      `{"match_id":"m","user_id":"u","emoji":"🔥","timestamp":${NOW},"__proto__":{"polluted":1}}`,
    );
    const r = validator.reaction(body);
    expect(r.ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('maps the seed body onto the default match', () => {
    expect(validator.seed({ user_id: 'u', emoji_type: '👏', timestamp: NOW })).toEqual({
      ok: true,
      value: { match_id: 'default-match', user_id: 'u', emoji: '👏', client_ts: NOW },
    });
  });

  it('validates batch items one by one, with indexed paths', () => {
    const r = validator.batch({ reactions: [ok, { ...ok, emoji: 'nope' }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.items[0]?.ok).toBe(true);
    expect(r.items[1]).toEqual({
      ok: false,
      problems: [
        {
          field: 'reactions[1].emoji',
          code: 'unknown_short_name',
          detail: 'is not a known emoji short name',
          suggestions: ['nose', 'notes', 'no'],
        },
      ],
    });
  });

  it('refuses a batch over the item limit as a whole', () => {
    expect(validator.batch({ reactions: [ok, ok, ok, ok] })).toEqual({
      ok: false,
      problems: [{ field: 'reactions', code: 'too_many_items', detail: 'must hold at most 3 items' }],
    });
  });
});
