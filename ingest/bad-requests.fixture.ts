/**
 * The bad requests every ingest must refuse, with the exact status and the fields/codes the problem names.
 * Shared by the unit test (fake Kafka) and the integration test (real Kafka: the topic must stay empty).
 * Timestamps are computed from the clock at call time so "valid" parts stay within the skew bound.
 */

export interface BadRequest {
  name: string;
  path: '/emoji' | '/v1/reactions' | '/v1/reactions:batch';
  /** Raw body text (so malformed JSON and odd encodings can be expressed). */
  body: string | Buffer;
  contentType?: string;
  status: number;
  /** Problem type slug expected in `type`. */
  slug: string;
  /** `field:code` pairs that must all appear in `errors` (validation problems). */
  errors?: string[];
}

/** Options that the configuration under test must use for the table to hold. */
export const BAD_REQUEST_CONFIG = {
  emojiAllowlist: [] as string[],
  batchMaxItems: 10,
  maxBodyBytes: 4096,
  maxBatchBodyBytes: 65_536,
};

export function badRequests(now = Date.now()): BadRequest[] {
  const iso = new Date(now).toISOString();
  const ok = { match_id: 'm-1', user_id: 'u-1', emoji: '🔥', timestamp: iso };
  const seed = { user_id: 'u-1', emoji_type: '🔥', timestamp: iso };
  const j = (v: unknown) => JSON.stringify(v);
  const r = (name: string, patch: Record<string, unknown>, errors: string[], status = 400): BadRequest => ({
    name,
    path: '/v1/reactions',
    body: j({ ...ok, ...patch }),
    status,
    slug: 'validation',
    errors,
  });
  const without = (key: keyof typeof ok) => {
    const { [key]: _dropped, ...rest } = ok;
    return rest;
  };
  return [
    // missing fields
    { ...r('missing match_id', {}, ['match_id:required']), body: j(without('match_id')) },
    { ...r('missing user_id', {}, ['user_id:required']), body: j(without('user_id')) },
    { ...r('missing emoji', {}, ['emoji:required']), body: j(without('emoji')) },
    { ...r('missing timestamp', {}, ['timestamp:required']), body: j(without('timestamp')) },
    {
      ...r('empty object names every field', {}, [
        'match_id:required',
        'user_id:required',
        'emoji:required',
        'timestamp:required',
      ]),
      body: '{}',
    },
    // extra fields
    r('unknown field', { extra: 1 }, ['extra:unknown_field']),
    r('two unknown fields', { a: 1, b: 2 }, ['a:unknown_field', 'b:unknown_field']),
    {
      ...r('__proto__ key', {}, ['__proto__:unknown_field']),
      body: `${j(ok).slice(0, -1)},"__proto__":{"admin":true}}`,
    },
    r('constructor key', { constructor: { prototype: { admin: true } } }, ['constructor:unknown_field']),
    r('prototype key', { prototype: {} }, ['prototype:unknown_field']),
    // wrong types
    r('user_id boolean', { user_id: true }, ['user_id:wrong_type']),
    r('user_id negative integer', { user_id: -5 }, ['user_id:wrong_type']),
    r('user_id float', { user_id: 1.5 }, ['user_id:wrong_type']),
    r('user_id object', { user_id: { id: 1 } }, ['user_id:wrong_type']),
    r('match_id null', { match_id: null }, ['match_id:wrong_type']),
    r('emoji number', { emoji: 128293 }, ['emoji:wrong_type']),
    r('emoji array', { emoji: ['🔥'] }, ['emoji:wrong_type']),
    r('timestamp boolean', { timestamp: false }, ['timestamp:wrong_type']),
    r('timestamp object', { timestamp: { $date: iso } }, ['timestamp:wrong_type']),
    // ids
    r('empty user_id', { user_id: '' }, ['user_id:empty']),
    r('user_id with space', { user_id: 'a b' }, ['user_id:invalid_characters']),
    r('match_id with slash', { match_id: '../etc' }, ['match_id:invalid_characters']),
    r('user_id with newline', { user_id: 'u\nX-Injected: 1' }, ['user_id:invalid_characters']),
    r('huge user_id', { user_id: 'u'.repeat(1000) }, ['user_id:too_long']),
    // ids no viewer could join (the one grammar of common/ids.ts): refused here, not stored unreachable
    r('match_id with a leading underscore', { match_id: '_m' }, ['match_id:invalid_characters']),
    r('match_id that is a dot-segment', { match_id: '..' }, ['match_id:invalid_characters']),
    r('match_id with a non-ASCII letter', { match_id: 'équipe' }, ['match_id:invalid_characters']),
    r('match_id of 65 characters', { match_id: 'm'.repeat(65) }, ['match_id:too_long']),
    // emoji
    r('multi-emoji string', { emoji: '🔥🔥' }, ['emoji:multiple_emoji']),
    r('text that is no emoji', { emoji: 'hello world' }, ['emoji:unknown_short_name']),
    r('emoji with text', { emoji: 'x🔥' }, ['emoji:not_emoji']),
    r('lone surrogate', { emoji: '\ud83d' }, ['emoji:not_emoji']),
    r('lone low surrogate', { emoji: '\udd25' }, ['emoji:not_emoji']),
    r('unknown short name', { emoji: ':definitely_not_an_emoji:' }, ['emoji:unknown_short_name']),
    r('empty emoji', { emoji: '' }, ['emoji:not_emoji']),
    r('huge emoji string', { emoji: '🔥'.repeat(500) }, ['emoji:too_long']),
    r('plain digit', { emoji: '7' }, ['emoji:unknown_short_name']),
    r('lone regional indicator', { emoji: '🇦' }, ['emoji:not_emoji']),
    // timestamps
    r('far-future timestamp', { timestamp: new Date(now + 3_600_000).toISOString() }, [
      'timestamp:timestamp_in_future',
    ]),
    r('ancient timestamp', { timestamp: '1999-12-31T23:59:59Z' }, ['timestamp:timestamp_too_old']),
    r('epoch 0', { timestamp: 0 }, ['timestamp:timestamp_too_old']),
    r('far-future epoch ms', { timestamp: now + 86_400_000 }, ['timestamp:timestamp_in_future']),
    r('invalid date', { timestamp: '2026-02-30T10:00:00Z' }, ['timestamp:invalid_timestamp']),
    r('not a date', { timestamp: 'yesterday' }, ['timestamp:invalid_timestamp']),
    r('negative epoch', { timestamp: -1 }, ['timestamp:invalid_timestamp']),
    r('huge timestamp string', { timestamp: '9'.repeat(200) }, ['timestamp:too_long']),
    r('every field wrong at once', { match_id: '', user_id: [], emoji: 'nope nope', timestamp: 'x', z: 1 }, [
      'match_id:empty',
      'user_id:wrong_type',
      'emoji:unknown_short_name',
      'timestamp:invalid_timestamp',
      'z:unknown_field',
    ]),
    // body shape
    { ...r('array body', {}, [':wrong_type']), body: j([ok]) },
    { ...r('null body', {}, [':wrong_type']), body: 'null' },
    { ...r('string body', {}, [':wrong_type']), body: '"🔥"' },
    // transport
    {
      name: 'invalid JSON',
      path: '/v1/reactions',
      body: '{"match_id": "m-1",',
      status: 400,
      slug: 'malformed-json',
    },
    { name: 'empty body', path: '/v1/reactions', body: '', status: 400, slug: 'malformed-json' },
    {
      name: 'invalid UTF-8',
      path: '/v1/reactions',
      body: Buffer.concat([Buffer.from('{"match_id":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      status: 400,
      slug: 'malformed-json',
    },
    {
      name: 'wrong content type',
      path: '/v1/reactions',
      body: j(ok),
      contentType: 'text/plain',
      status: 415,
      slug: 'unsupported-media-type',
    },
    {
      name: 'form content type',
      path: '/v1/reactions',
      body: 'match_id=m-1',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      slug: 'unsupported-media-type',
    },
    {
      name: 'JSON in another charset',
      path: '/v1/reactions',
      body: j(ok),
      contentType: 'application/json; charset=utf-16',
      status: 415,
      slug: 'unsupported-media-type',
    },
    {
      name: 'oversized body',
      path: '/v1/reactions',
      body: j({ ...ok, pad: 'x'.repeat(BAD_REQUEST_CONFIG.maxBodyBytes) }),
      status: 413,
      slug: 'payload-too-large',
    },
    // seed endpoint
    {
      name: 'seed: missing emoji_type',
      path: '/emoji',
      body: j({ user_id: 'u-1', timestamp: iso }),
      status: 400,
      slug: 'validation',
      errors: ['emoji_type:required'],
    },
    {
      name: 'seed: v1 field name',
      path: '/emoji',
      body: j({ ...seed, emoji: '🔥' }),
      status: 400,
      slug: 'validation',
      errors: ['emoji:unknown_field'],
    },
    // batch
    {
      name: 'batch over the limit',
      path: '/v1/reactions:batch',
      body: j({ reactions: Array.from({ length: BAD_REQUEST_CONFIG.batchMaxItems + 1 }, () => ok) }),
      status: 400,
      slug: 'validation',
      errors: ['reactions:too_many_items'],
    },
    {
      name: 'batch empty',
      path: '/v1/reactions:batch',
      body: j({ reactions: [] }),
      status: 400,
      slug: 'validation',
      errors: ['reactions:too_few_items'],
    },
    {
      name: 'batch not an array',
      path: '/v1/reactions:batch',
      body: j({ reactions: ok }),
      status: 400,
      slug: 'validation',
      errors: ['reactions:wrong_type'],
    },
    {
      name: 'batch as bare array',
      path: '/v1/reactions:batch',
      body: j([ok]),
      status: 400,
      slug: 'validation',
      errors: [':wrong_type'],
    },
    {
      name: 'batch with every item bad',
      path: '/v1/reactions:batch',
      body: j({
        reactions: [
          { ...ok, emoji: 'nope' },
          { ...ok, user_id: true },
        ],
      }),
      status: 400,
      slug: 'validation',
      errors: ['reactions[0].emoji:unknown_short_name', 'reactions[1].user_id:wrong_type'],
    },
    {
      name: 'batch unknown top-level field',
      path: '/v1/reactions:batch',
      body: j({ reactions: [ok], dry_run: true }),
      status: 400,
      slug: 'validation',
      errors: ['dry_run:unknown_field'],
    },
    {
      name: 'batch oversized body',
      path: '/v1/reactions:batch',
      body: j({ reactions: [{ ...ok, pad: 'x'.repeat(BAD_REQUEST_CONFIG.maxBatchBodyBytes) }] }),
      status: 413,
      slug: 'payload-too-large',
    },
  ];
}
