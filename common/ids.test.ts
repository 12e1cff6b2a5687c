/**
 * The id grammar is one contract with several faces: ingest's validator (fast path and zod schema), the
 * directory's HTTP routes, the Socket.IO payload schemas and the OpenAPI specs. These tests hold them together,
 * above all: every match id ingest accepts is joinable by a viewer.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Directory, nodeReportSchema } from '../fanout/main-publisher/directory.ts';
import { createDirectoryServer } from '../fanout/main-publisher/directory-server.ts';
import { createEmojiNormalizer } from '../ingest/emoji-normalizer.ts';
import { createReactionValidator } from '../ingest/reaction-validator.ts';
import { CLUSTER_ID_PATTERN_SOURCE, ID_MAX_LENGTH, ID_PATTERN_SOURCE, isId } from './ids.ts';
import { roomRequestSchema, subscriptionRequestSchema } from './socket-events.ts';

const NOW = Date.UTC(2026, 2, 1, 20, 15, 0, 0);
const validator = createReactionValidator({
  normalizer: createEmojiNormalizer(),
  defaultMatchId: 'default',
  skewAheadMs: 30_000,
  skewBehindMs: 300_000,
  maxBatchItems: 10,
  now: () => NOW,
});

/** Edge cases of the grammar, accepted and refused alike. */
const CANDIDATES: unknown[] = [
  'team@home',
  'user@example.com',
  'm-1',
  'match:2026:final',
  'a.b_c-d',
  'A',
  '7',
  '0042',
  '_leading-underscore',
  '-leading-dash',
  '.leading-dot',
  ':leading-colon',
  '@leading-at',
  '.',
  '..',
  'x'.repeat(ID_MAX_LENGTH),
  'x'.repeat(ID_MAX_LENGTH + 1),
  `${'a'.repeat(ID_MAX_LENGTH - 1)}@`,
  '',
  'no spaces',
  'a/b',
  'a,b',
  'a%20b',
  'a?b',
  'a#b',
  'tab\there',
  'line\nbreak',
  'trailing\n',
  'équipe',
  'チーム',
  '🔥',
  'ａｂｃ', // full-width letters
  'Ä',
  12345,
  0,
];

function ingestAcceptsMatchId(candidate: unknown): { ok: boolean; stored?: string } {
  const r = validator.reaction({ match_id: candidate, user_id: 'u-1', emoji: '🔥', timestamp: NOW });
  return r.ok ? { ok: true, stored: r.value.match_id } : { ok: false };
}

describe('one id grammar', () => {
  const directory = new Directory();
  const server = createDirectoryServer({ host: '127.0.0.1', port: 0, directory });
  let base: string;
  beforeAll(async () => {
    directory.report('n1', { cluster_id: 'c1', url: 'http://127.0.0.1:1', viewers: 0, matches: [] });
    await server.start();
    base = server.url;
  });
  afterAll(() => server.stop());

  it.each(CANDIDATES.map((c) => [JSON.stringify(c), c]))(
    'match id %s: ingest accepts it only if a viewer can join it',
    async (_label, candidate) => {
      const ingest = ingestAcceptsMatchId(candidate);
      if (!ingest.ok) {
        // Refused at the door: nothing is stored that no one could watch. The string grammar agrees.
        expect(isId(candidate)).toBe(false);
        return;
      }
      const stored = ingest.stored as string;
      const assign = await fetch(`${base}/v1/assign?${new URLSearchParams({ match_id: stored })}`);
      expect.soft(assign.status, 'GET /v1/assign').toBe(200);
      const windows = await fetch(`${base}/v1/matches/${encodeURIComponent(stored)}/windows`);
      expect.soft(windows.status, 'GET /v1/matches/{id}/windows').toBe(200);
      const raw = await fetch(`${base}/v1/matches/${stored}/windows`);
      expect.soft(raw.status, 'the id unencoded in a path').toBe(200);
      expect.soft(roomRequestSchema.safeParse({ match_id: stored }).success, 'viewer join').toBe(true);
      expect
        .soft(subscriptionRequestSchema.safeParse({ match_ids: [stored] }).success, 'subscribe')
        .toBe(true);
      const report = { cluster_id: 'c1', url: 'http://127.0.0.1:1', viewers: 1, matches: [stored] };
      expect.soft(nodeReportSchema.safeParse(report).success, 'node report').toBe(true);
    },
  );

  it.each(CANDIDATES.filter((c) => typeof c === 'string').map((c) => [JSON.stringify(c), c]))(
    'match id %s: the directory refuses exactly what ingest refuses',
    async (_label, candidate) => {
      const assign = await fetch(
        `${base}/v1/assign?${new URLSearchParams({ match_id: candidate as string })}`,
      );
      expect(assign.status === 200).toBe(ingestAcceptsMatchId(candidate).ok);
    },
  );

  it.each(CANDIDATES.map((c) => [JSON.stringify(c), c]))(
    'user id %s: the validator fast path and its zod schema agree',
    (_label, candidate) => {
      // reaction() takes the hand-written path for well-formed string ids; seed() always goes through zod.
      const fast = validator.reaction({ match_id: 'm', user_id: candidate, emoji: '🔥', timestamp: NOW });
      const slow = validator.seed({ user_id: candidate, emoji_type: '🔥', timestamp: NOW });
      expect(fast.ok).toBe(slow.ok);
      if (fast.ok && slow.ok) expect(fast.value.user_id).toBe(slow.value.user_id);
    },
  );

  it('keeps the rule the specs publish', () => {
    const ingest = parse(readFileSync(new URL('../ingest/openapi.yaml', import.meta.url), 'utf8'));
    const directory = parse(
      readFileSync(new URL('../fanout/main-publisher/openapi.yaml', import.meta.url), 'utf8'),
    );
    expect(ingest.components.schemas.Id.oneOf[0].pattern).toBe(ID_PATTERN_SOURCE);
    expect(directory.components.schemas.Id.pattern).toBe(ID_PATTERN_SOURCE);
    expect(directory.components.schemas.ClusterId.pattern).toBe(CLUSTER_ID_PATTERN_SOURCE);
  });
});
