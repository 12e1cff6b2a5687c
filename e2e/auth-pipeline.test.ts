/**
 * The whole pipeline with signed tokens on (INGEST_AUTH=jwt, VIEWER_AUTH=jwt, one HS256 secret, as
 * `npm start -- --auth` sets them): a viewer holding a token for its match sees exactly the reactions posted with
 * valid tokens. Requests without a token, with a forged one, or naming another user than the token's are refused
 * and never counted; a viewer token without the match in its `matches` claim is refused.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../common/auth.ts';
import type { SwarmMessage } from '../common/socket-events.ts';
import { createViewer, type Viewer } from '../fanout/index.ts';
import type { Pipeline } from '../infra/local/pipeline-services.ts';
import { startTestPipeline } from './test-pipeline.fixture.ts';

const run = randomUUID().slice(0, 8);
const MATCH = `auth-${run}`;
const OTHER = `other-${run}`;
const SECRET = randomBytes(32).toString('hex');
const AUTH_ENV = { AUTH_JWT_SECRET: SECRET };

let pipeline: Pipeline;
const viewers: Viewer[] = [];

const token = (subject: string, matches?: string[], secret = SECRET) =>
  mintToken({ subject, ttlSec: 600, secret, ...(matches ? { matches } : {}) });

async function post(body: Record<string, unknown>, bearer?: string): Promise<number> {
  const res = await fetch(`${pipeline.ingestUrl}/v1/reactions?durable=true`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
    },
    body: JSON.stringify({ match_id: MATCH, emoji: '🔥', timestamp: Date.now(), ...body }),
  });
  await res.body?.cancel();
  return res.status;
}

beforeAll(async () => {
  ({ pipeline } = await startTestPipeline({
    name: 'e2e-auth',
    run,
    ingestEnv: { INGEST_AUTH: 'jwt', ...AUTH_ENV },
    fanoutEnv: { VIEWER_AUTH: 'jwt', ...AUTH_ENV },
  }));
}, 420_000);

afterAll(async () => {
  for (const v of viewers) v.stop();
  await pipeline?.stop();
}, 120_000);

describe('the pipeline with signed tokens', () => {
  it('counts exactly the reactions posted with valid tokens, at a viewer holding a token for the match', async () => {
    const windows = new Map<number, SwarmMessage>();
    const viewer = createViewer({
      directoryUrl: pipeline.directoryUrl,
      matchIds: [MATCH],
      token: await token('viewer-1', [MATCH]),
    });
    viewers.push(viewer);
    viewer.on('swarm', (m) => windows.set(m.window_start, m));
    viewer.on('snapshot', (s) => {
      for (const m of s.windows) windows.set(m.window_start, m);
    });
    viewer.on('error', () => {});
    await viewer.start();

    // Refused, never counted: no token, a token signed with another secret, a body naming another user.
    expect(await post({ user_id: 'fan-1' })).toBe(401);
    expect(
      await post({ user_id: 'fan-1' }, await token('fan-1', undefined, randomBytes(32).toString('hex'))),
    ).toBe(401);
    expect(await post({ user_id: 'fan-2' }, await token('fan-1'))).toBe(403);
    // Accepted: five reactions from three users, each with its own token.
    const accepted = [
      await post({ user_id: 'fan-1' }, await token('fan-1')),
      await post({ user_id: 'fan-2' }, await token('fan-2')),
      await post({ user_id: 'fan-3' }, await token('fan-3')),
      await post({ user_id: 'fan-1' }, await token('fan-1')),
      await post({ user_id: 'fan-2' }, await token('fan-2')),
    ];
    expect(accepted).toEqual([200, 200, 200, 200, 200]);

    const fire = () => [...windows.values()].reduce((n, m) => n + (m.counts['🔥'] ?? 0), 0);
    await expect.poll(fire, { timeout: 120_000, interval: 250 }).toBe(5);
    // Nothing refused arrives later either.
    await sleep(6000);
    expect(fire()).toBe(5);
  }, 180_000);

  it('refuses a viewer whose token does not name the match, and one without a token', async () => {
    const wrongMatch = createViewer({
      directoryUrl: pipeline.directoryUrl,
      matchIds: [MATCH],
      token: await token('viewer-2', [OTHER]),
    });
    const noToken = createViewer({ directoryUrl: pipeline.directoryUrl, matchIds: [MATCH] });
    viewers.push(wrongMatch, noToken);
    await expect(wrongMatch.start()).rejects.toThrow(/refused: forbidden/);
    await expect(noToken.start()).rejects.toThrow(/unauthorized/i);
    expect(wrongMatch.received + noToken.received).toBe(0);
  }, 60_000);
});
