/**
 * Differential test of the validator's hand-checked fast path: on generated bodies, well-formed and not, the
 * validator answers exactly what the same validator with the fast path off (every body through the zod schemas)
 * answers — same acceptance, same normalised reaction, same problems. fast-check shrinks a failure to the
 * smallest body and prints the seed that reproduces it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ID_MAX_LENGTH as MAX_ID_LENGTH } from '../common/ids.ts';
import { createEmojiNormalizer } from './emoji-normalizer.ts';
import { createReactionValidator, type ReactionValidatorOptions } from './reaction-validator.ts';

const NOW = Date.UTC(2026, 2, 1, 20, 15, 0, 0);
const options: ReactionValidatorOptions = {
  normalizer: createEmojiNormalizer(),
  defaultMatchId: 'default-match',
  skewAheadMs: 30_000,
  skewBehindMs: 300_000,
  maxBatchItems: 4,
  now: () => NOW,
};
const withFastPath = createReactionValidator(options);
const zodOnly = createReactionValidator({ ...options, fastPath: false });
const palette = createReactionValidator({
  ...options,
  normalizer: createEmojiNormalizer(['🔥', 'clap']),
});
const paletteZodOnly = createReactionValidator({
  ...options,
  normalizer: createEmojiNormalizer(['🔥', 'clap']),
  fastPath: false,
});

const ID_CHARS = 'abcXYZ019_.:@-';
const id = fc.oneof(
  fc.string({ unit: fc.constantFrom(...ID_CHARS), minLength: 1, maxLength: 12 }),
  fc.constantFrom(
    '',
    'a'.repeat(MAX_ID_LENGTH),
    'a'.repeat(MAX_ID_LENGTH + 1),
    'team@home',
    '_lead',
    'has space',
    'slash/y',
    'ünï',
    '🔥',
    'a\n',
    '0',
  ),
  fc.string({ maxLength: 8 }),
  fc.integer({ min: -3, max: 1_000_000 }),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 1.5, -0, Number.NaN),
  fc.constantFrom(null, true, [], {}, ['a']),
);

const emoji = fc.oneof(
  fc.constantFrom('🔥', '👍', '👍️', '👍🏽', '❤', '❤️', '❤︎', '🇫🇷', '👨‍👩‍👧', '☺', '✌🏿', '#️⃣', '1️⃣'),
  fc.constantFrom('fire', ':fire:', 'thumbs_up', '+1', ':+1:', 'clap', 'heart', 'Thumbs Up', 'thumbs-up'),
  fc.constantFrom('no_such_emoji', '🔥🔥', '🔥 ', ' 🔥', 'x🔥', '1', '#', '', 'fire'.repeat(17), '\uD83D'),
  fc.constantFrom('🔥'.repeat(32), '🔥'.repeat(33)),
  fc.string({ maxLength: 6 }),
  fc.constantFrom(1, null, ['🔥'], { e: '🔥' }),
);

const iso = (ms: number) => new Date(ms).toISOString();
const timestamp = fc.oneof(
  fc.integer({ min: NOW - 400_000, max: NOW + 60_000 }),
  fc.integer({ min: NOW - 400_000, max: NOW + 60_000 }).map((ms) => ms / 1000),
  fc.integer({ min: NOW - 400_000, max: NOW + 60_000 }).map(iso),
  fc.integer({ min: NOW - 400_000, max: NOW + 60_000 }).map(String),
  fc.constantFrom(
    NOW,
    NOW + 30_000,
    NOW + 30_001,
    NOW - 300_000,
    NOW - 300_001,
    '2026-03-01T21:15:00+01:00',
    '2026-03-01T20:15:00',
    '2026-02-30T20:15:00Z',
    `${iso(NOW)}${' '.repeat(20)}`,
    '',
    'now',
    -1,
    0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    null,
    true,
    [NOW],
    { ms: NOW },
  ),
);

/** A reaction body: each field present or not, sometimes an unknown field, sometimes a present `undefined`. */
const reactionBody = fc
  .record(
    {
      match_id: id,
      user_id: id,
      emoji,
      timestamp,
      extra: fc.oneof(fc.constant(undefined), fc.string({ maxLength: 3 }), fc.integer()),
    },
    { requiredKeys: [] },
  )
  .chain((body) =>
    fc
      .record({ drop: fc.boolean(), undefinedKey: fc.constantFrom('', 'match_id', 'emoji', 'timestamp') })
      .map(({ drop, undefinedKey }) => {
        const out: Record<string, unknown> = { ...body };
        if (drop) delete out.extra;
        if (undefinedKey) out[undefinedKey] = undefined;
        return out;
      }),
  );

/** A well-formed body: the fast path's own ground, where it must give the schema's normalised answer. */
/** An id of the grammar in common/ids.ts: a letter or digit, then up to 63 of the id characters. */
const goodId = fc
  .tuple(
    fc.constantFrom(...'abcXYZ019'),
    fc.string({ unit: fc.constantFrom(...ID_CHARS), maxLength: MAX_ID_LENGTH - 1 }),
  )
  .map(([first, rest]) => first + rest);
const wellFormed = fc.record({
  match_id: goodId,
  user_id: goodId,
  emoji: fc.constantFrom('🔥', '👍️', '👍🏽', '❤', 'fire', ':+1:', 'clap', 'Thumbs Up', 'thumbs-up'),
  timestamp: fc.integer({ min: NOW - 300_000, max: NOW + 30_000 }),
});

const anyBody = fc.oneof(
  { weight: 6, arbitrary: reactionBody },
  { weight: 3, arbitrary: wellFormed },
  { weight: 1, arbitrary: fc.anything() },
);

/** JSON text the way a client sends it; JSON.parse makes `__proto__` an own key, as express's parser does. */
const jsonBodies = fc.constantFrom(
  '{"match_id":"m","user_id":"u","emoji":"🔥","timestamp":1772396100000,"__proto__":{"x":1}}',
  '{"__proto__":null,"match_id":"m","user_id":"u","emoji":"🔥"}',
  '{"match_id":"m","user_id":"u","emoji":"🔥","timestamp":1772396100000,"match_id":"n"}',
  '{"reactions":[{"match_id":"m","user_id":"u","emoji":"🔥","timestamp":1772396100000}],"__proto__":[]}',
);

/** Bodies per property; `DIFF_RUNS=100000` for a long hunt. */
const RUNS = Number(process.env.DIFF_RUNS ?? 2000);
/** Generous: thousands of zod parses take seconds on a loaded machine, and a slow run is not a failure. */
const TIMEOUT_MS = 120_000;

describe('the validator fast path answers exactly what the zod schemas answer', {
  timeout: TIMEOUT_MS,
}, () => {
  it('on single reactions', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        expect(withFastPath.reaction(body)).toEqual(zodOnly.reaction(body));
      }),
      { numRuns: RUNS },
    );
  });

  it('on well-formed reactions, accepting them with the normalised value', () => {
    fc.assert(
      fc.property(wellFormed, (body) => {
        const r = withFastPath.reaction(body);
        expect(r.ok).toBe(true);
        expect(r).toEqual(zodOnly.reaction(body));
      }),
      { numRuns: 1000 },
    );
  });

  it('on batches, item by item, and on whole-batch problems', () => {
    const batch = fc.oneof(
      { weight: 4, arbitrary: fc.record({ reactions: fc.array(anyBody, { minLength: 1, maxLength: 4 }) }) },
      fc.record({ reactions: fc.array(anyBody, { minLength: 0, maxLength: 6 }) }),
      fc.record(
        { reactions: fc.array(anyBody, { maxLength: 2 }), extra: fc.integer() },
        { requiredKeys: [] },
      ),
      fc.record({ reactions: fc.oneof(fc.constant(undefined), fc.string(), fc.object()) }),
      fc.anything(),
    );
    fc.assert(
      fc.property(batch, (body) => {
        expect(withFastPath.batch(body)).toEqual(zodOnly.batch(body));
      }),
      { numRuns: RUNS },
    );
  });

  it('with an emoji palette', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        expect(palette.reaction(body)).toEqual(paletteZodOnly.reaction(body));
      }),
      { numRuns: 1000 },
    );
  });

  it('on JSON-parsed bodies with __proto__ and repeated keys', () => {
    fc.assert(
      fc.property(jsonBodies, (text) => {
        const body: unknown = JSON.parse(text);
        expect(withFastPath.reaction(body)).toEqual(zodOnly.reaction(body));
        expect(withFastPath.batch(body)).toEqual(zodOnly.batch(body));
      }),
    );
  });
});
