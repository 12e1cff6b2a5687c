#!/usr/bin/env tsx
/**
 * `npm run client -- --match <id> [--directory URL] [--ingest URL] [--react 🔥 --rate 5] [--user ID] [--token T]`
 *
 * `--token` (or `EMOSTREAM_TOKEN`): a JWT (`npm run token -- --sub <user>`), sent to ingest as
 * `Authorization: Bearer` and to the subscriber node as the handshake's `auth.token`; with a token the user id
 * is its subject unless `--user` says otherwise.
 *
 * A terminal viewer: gets a subscriber node from the directory, joins the match and prints one line per window
 * update (`12:00:04–06  🔥×3 (3785)  👏×1 (12)`). Sends reactions to ingest on a key press when stdin is a
 * terminal (1–5 from the palette below, q to quit) and/or at a steady rate from --react/--rate.
 * Defaults: the addresses of `npm start` (DIRECTORY_URL / INGEST_URL override them). Ctrl-C exits cleanly.
 */
import { randomUUID } from 'node:crypto';
import { argv, chalk } from 'zx';
import { isId } from '../common/ids.ts';
import { createViewer, formatWindowLine } from '../fanout/index.ts';
import { fail } from './cli-options.ts';

/** Keys 1–5 send these. */
const PALETTE = ['🔥', '👏', '❤️', '😂', '😮'] as const;

const matchId = String(argv.match ?? '');
if (!isId(matchId)) {
  fail('usage: npm run client -- --match <id> [--directory URL] [--ingest URL] [--react 🔥 --rate 5]');
}
const directoryUrl = String(argv.directory ?? process.env.DIRECTORY_URL ?? 'http://127.0.0.1:8090').replace(
  /\/+$/,
  '',
);
const ingestUrl = String(argv.ingest ?? process.env.INGEST_URL ?? 'http://127.0.0.1:8080').replace(
  /\/+$/,
  '',
);
const token = argv.token === undefined ? process.env.EMOSTREAM_TOKEN || undefined : String(argv.token);
/** The token's subject, read without verifying (the services verify it); undefined when there is none. */
function tokenSubject(t: string | undefined): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(t?.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      sub?: unknown;
    };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}
const userId = String(argv.user ?? tokenSubject(token) ?? `cli-${randomUUID().slice(0, 8)}`);
const react = argv.react === undefined ? undefined : String(argv.react);
const rate = argv.rate === undefined ? (react ? 1 : 0) : Number(argv.rate);
if (!Number.isFinite(rate) || rate < 0 || rate > 1000)
  fail('--rate must be a number of reactions per second, 0–1000');
if (rate > 0 && !react) fail('--rate needs --react <emoji>');

let sent = 0;
let refused = 0;

async function sendReaction(emoji: string, echo: boolean): Promise<void> {
  try {
    const res = await fetch(`${ingestUrl}/v1/reactions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ match_id: matchId, user_id: userId, emoji, timestamp: Date.now() }),
      signal: AbortSignal.timeout(5_000),
    });
    if (res.ok) {
      sent++;
      await res.body?.cancel();
      if (echo) console.log(chalk.dim(`  sent ${emoji}`));
    } else {
      refused++;
      const problem = (await res.json().catch(() => ({}))) as { detail?: string };
      console.log(chalk.yellow(`  ${emoji} refused: ${res.status} ${problem.detail ?? ''}`));
    }
  } catch (err) {
    refused++;
    console.log(chalk.yellow(`  ${emoji} not sent: ${(err as Error).message}`));
  }
}

const viewer = createViewer({
  directoryUrl,
  matchIds: [matchId],
  token,
});
viewer.on('expired', (message) => console.log(chalk.yellow(`session ended: ${message}`)));
viewer.on('connected', (a) =>
  console.log(chalk.green(`joined ${matchId} on ${a.node_id} (${a.cluster_id}) ${a.url}`)),
);
viewer.on('disconnected', (reason) => {
  // Our own stop closes the socket too; only a lost connection is news.
  if (!stopping) console.log(chalk.yellow(`disconnected (${reason}); asking the directory again…`));
});
viewer.on('error', (err) => {
  console.error(chalk.red(err.message));
  void shutdown(1);
});
viewer.on('snapshot', (s) => {
  console.log(chalk.dim(`snapshot: ${s.windows.length} recent window${s.windows.length === 1 ? '' : 's'}`));
  for (const w of s.windows.slice(-5)) console.log(chalk.dim(formatWindowLine(w)));
});
viewer.on('swarm', (m) => console.log(formatWindowLine(m)));

let timer: NodeJS.Timeout | undefined;
let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (timer) clearInterval(timer);
  if (process.stdin.isTTY) process.stdin.setRawMode(false);
  viewer.stop();
  console.log(
    chalk.dim(`bye (${viewer.received} updates received, ${sent} reactions sent, ${refused} refused)`),
  );
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  await viewer.start();
} catch (err) {
  fail(`could not join ${matchId} through ${directoryUrl}: ${(err as Error).message}`);
}

if (rate > 0 && react) {
  console.log(chalk.dim(`sending ${react} ${rate}/s as ${userId}`));
  timer = setInterval(() => void sendReaction(react, false), 1000 / rate);
}
if (process.stdin.isTTY) {
  console.log(chalk.dim(`keys: ${PALETTE.map((e, i) => `${i + 1} ${e}`).join('  ')}   q quit`));
  process.stdin.setRawMode(true);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (key: string) => {
    // Raw mode delivers Ctrl-C as a byte, not a signal.
    if (key === '\u0003' || key === 'q') void shutdown(0);
    const emoji = PALETTE[Number(key) - 1];
    if (emoji) void sendReaction(emoji, true);
  });
}
