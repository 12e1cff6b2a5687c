/**
 * `npm start -- --demo`: a few simulated viewers per match and a steady, modest stream of reactions, so a fresh
 * pipeline has something to show. Prints one line per window update seen by the first viewer of each match.
 */

import { createViewer, formatWindowLine, type Viewer } from '../../fanout/index.ts';

/** Options of {@link startDemo}. */
export interface DemoOptions {
  ingestUrl: string;
  directoryUrl: string;
  /**
   * With auth on: mints a token for a demo user. Viewers then present one, and each batch of reactions is one
   * user's (the token's subject), rotating over the demo users. @default none (auth off)
   */
  mint?: (subject: string) => Promise<string>;
  /** @default ['demo-final', 'demo-semi', 'demo-derby'] */
  matches?: string[];
  /** @default 3 */
  viewersPerMatch?: number;
  /** Reactions per second over all matches. @default 40 */
  rate?: number;
  /** Where the live lines go. @default stdout */
  write?: (line: string) => void;
}

/** A running demo. */
export interface Demo {
  readonly matches: string[];
  readonly viewers: number;
  stop(): void;
}

// Each match has a mood: its own mix of the palette.
const MOODS: [string, number][][] = [
  [
    ['🔥', 5],
    ['👏', 3],
    ['❤️', 1],
  ],
  [
    ['😂', 4],
    ['😮', 2],
    ['👏', 1],
  ],
  [
    ['❤️', 3],
    ['🔥', 2],
    ['😢', 2],
  ],
];

function pick(mood: [string, number][]): string {
  const total = mood.reduce((s, [, w]) => s + w, 0);
  let r = Math.random() * total;
  for (const [emoji, w] of mood) {
    r -= w;
    if (r < 0) return emoji;
  }
  return mood[0]?.[0] ?? '🔥';
}

/** Connects the viewers and starts the reactions; stop() ends both. */
export async function startDemo(options: DemoOptions): Promise<Demo> {
  const matches = options.matches ?? ['demo-final', 'demo-semi', 'demo-derby'];
  const perMatch = options.viewersPerMatch ?? 3;
  const rate = options.rate ?? 40;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const width = Math.max(...matches.map((m) => m.length));
  const viewers: Viewer[] = [];
  let stopped = false;
  const DEMO_USERS = 20;
  const tokens =
    options.mint === undefined
      ? undefined
      : await Promise.all(
          Array.from({ length: DEMO_USERS }, (_, i) =>
            (options.mint as (s: string) => Promise<string>)(`demo-${i}`),
          ),
        );
  let tick = 0;

  try {
    for (const [m, matchId] of matches.entries()) {
      for (let i = 0; i < perMatch; i++) {
        const viewer = createViewer({
          directoryUrl: options.directoryUrl,
          matchIds: [matchId],
          token: tokens?.[0],
        });
        viewer.on('error', () => {});
        if (i === 0) {
          viewer.on('swarm', (message) => {
            if (!stopped) write(`[demo] ${matchId.padEnd(width)}  ${formatWindowLine(message)}`);
          });
        }
        viewers.push(viewer);
        await viewer.start();
        if (m === 0 && i === 0) write(`[demo] viewers joining ${matches.join(', ')} (${perMatch} each)`);
      }
    }
  } catch (err) {
    for (const v of viewers) v.stop();
    throw err;
  }

  // A steady stream in small batches, four a second; the first match is the busiest.
  const weights = matches.map((_, i) => 1 / (i + 1));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  let owed = 0;
  const timer = setInterval(() => {
    owed += rate / 4;
    const n = Math.floor(owed);
    owed -= n;
    const user = tick++ % DEMO_USERS;
    const reactions = Array.from({ length: n }, () => {
      let r = Math.random() * weightSum;
      let m = 0;
      while (m < matches.length - 1 && r >= (weights[m] ?? 0)) r -= weights[m++] ?? 0;
      return {
        match_id: matches[m] ?? '',
        user_id: tokens === undefined ? `demo-${Math.floor(Math.random() * 200)}` : `demo-${user}`,
        emoji: pick(MOODS[m % MOODS.length] ?? []),
        timestamp: Date.now(),
      };
    });
    if (n === 0) return;
    fetch(`${options.ingestUrl}/v1/reactions:batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(tokens === undefined ? {} : { authorization: `Bearer ${tokens[user]}` }),
      },
      body: JSON.stringify({ reactions }),
      signal: AbortSignal.timeout(5_000),
    })
      .then((res) => res.body?.cancel())
      .catch(() => {
        // A stopping stack refuses; the next tick tries again.
      });
  }, 250);

  return {
    matches,
    viewers: viewers.length,
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const v of viewers) v.stop();
    },
  };
}
