/**
 * The viewer page: the project's viewer client (fanout/client/viewer-client.ts) bundled for the browser, drawing
 * what it holds. Reads the match from `?match=` or the form, checks it against the one id grammar
 * (common/id-grammar.ts, zod-free) before anything is sent, asks the directory for a node, joins, draws the snapshot and then the
 * live windows; taps (buttons, keys 1–9) are POSTed to ingest, and the time from a tap to the first window
 * state that counts it is measured with the load simulator's tracker (fanout/client/latency-tracker.ts).
 */
import './viewer.css';
import { ID_RULE, isId } from '../../common/id-grammar.ts';
import type { SwarmMessage } from '../../common/socket-events.ts';
import { LatencyTracker } from '../../fanout/client/latency-tracker.ts';
import { formatSwarm, formatWindowSpan } from '../../fanout/client/swarm-format.ts';
import { createViewer, type Viewer } from '../../fanout/client/viewer-client.ts';
import { SwarmStage } from './swarm-stage.ts';

/** The job's window length (jobs/spark-sql/emoji-swarm.yml `window`); ingest_ts names a tap's window with it. */
const WINDOW_MS = 2_000;
/** The react buttons, in key order 1–9. */
const PALETTE = ['🔥', '😂', '❤️', '👏', '😮', '😢', '🎉', '👍', '😡'] as const;

interface StackConfig {
  ingestUrl: string;
  directoryUrl: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const config = JSON.parse($('stack-config').textContent ?? '{}') as StackConfig;
const form = $<HTMLFormElement>('match-form');
const input = $<HTMLInputElement>('match-input');
const matchError = $('match-error');
const connection = $('connection');
const counts = $('counts');
const windowSpan = $('window-span');
const swarmText = $('swarm-text');
const latency = $('latency');
const reactStatus = $('react-status');
const fps = $('fps');
const stage = new SwarmStage($<HTMLCanvasElement>('stage'));
stage.onFps = (n) => {
  fps.textContent = `${n} fps`;
  fps.dataset.fps = String(n);
};
stage.start();

/**
 * The viewer's token when auth is on: typed into the page's field and kept in localStorage, never in the URL
 * (ingest refuses a token in the query string: URLs end up in logs). Sent to ingest as `Authorization: Bearer`
 * and to the subscriber node as the handshake's `auth.token`.
 */
const TOKEN_KEY = 'emostream.token';
const tokenInput = $<HTMLInputElement>('token-input');
tokenInput.value = localStorage.getItem(TOKEN_KEY) ?? '';
function currentToken(): string | undefined {
  const t = tokenInput.value.trim();
  if (t === '') localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, t);
  return t === '' ? undefined : t;
}
/** The token's `sub` (read, not verified: the services verify), the user id reactions are sent as. */
function tokenSubject(t: string | undefined): string | undefined {
  try {
    const part = (t?.split('.')[1] ?? '').replaceAll('-', '+').replaceAll('_', '/');
    const sub = (JSON.parse(atob(part)) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
const anonymousUser = `web-${crypto.randomUUID().slice(0, 12)}`;
let token = currentToken();
let userId = tokenSubject(token) ?? anonymousUser;
let viewer: Viewer | undefined;
let match: string | undefined;
let tracker = new LatencyTracker();
let lastNode: string | undefined;
let snapshots = 0;

/** A value shown back to the user: bounded, control and invisible characters made visible. */
function describe(value: string): string {
  const head = [...value.slice(0, 40)]
    .map((c) => (/[\p{C}\p{Zl}\p{Zp}]/u.test(c) ? `\\u{${c.codePointAt(0)?.toString(16)}}` : c))
    .join('');
  return `"${head}${value.length > 40 ? '…' : ''}" (${value.length} characters)`;
}

function setConnection(state: string, text: string): void {
  connection.dataset.state = state;
  connection.textContent = text;
}

function showMatchError(value: string): void {
  matchError.hidden = false;
  matchError.textContent = `Cannot watch match ${describe(value)}: a match id is ${ID_RULE}. Nothing was sent; type another one.`;
  setConnection('idle', 'Not watching.');
}

/** The newest held window of the match. */
function latestWindow(): SwarmMessage | undefined {
  if (viewer === undefined || match === undefined) return undefined;
  return viewer.windows(match).at(-1);
}

function renderCounts(): void {
  const latest = latestWindow();
  if (latest === undefined) {
    counts.replaceChildren();
    windowSpan.textContent = '–';
    return;
  }
  windowSpan.textContent = formatWindowSpan(latest.window_start, latest.window_end);
  const items = Object.entries(latest.counts)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 40)
    .map(([emoji, count]) => {
      const li = document.createElement('li');
      li.dataset.emoji = emoji;
      li.dataset.count = String(count);
      li.dataset.swarm = String(latest.swarm[emoji] ?? 0);
      const e = document.createElement('span');
      e.className = 'emoji';
      e.textContent = emoji;
      li.append(e, `×${latest.swarm[emoji] ?? 0} (${count})`);
      return li;
    });
  counts.replaceChildren(...items);
  counts.dataset.windowStart = String(latest.window_start);
  swarmText.textContent = formatSwarm(latest);
}

function observe(window: SwarmMessage): void {
  const total = Object.values(window.counts).reduce((a, b) => a + b, 0);
  tracker.observed(window.match_id, window.window_start, total, Date.now());
  const s = tracker.summary();
  if (s.count > 0) {
    latency.textContent = `Tap → swarm: ${s.count} tap${s.count === 1 ? '' : 's'} counted, p50 ${s.p50} ms, max ${s.max} ms${tracker.pending > 0 ? ` (${tracker.pending} waiting)` : ''}`;
    latency.dataset.count = String(s.count);
    latency.dataset.p50 = String(s.p50);
  }
}

async function watch(next: string): Promise<void> {
  matchError.hidden = true;
  viewer?.stop();
  stage.clear();
  match = next;
  tracker = new LatencyTracker();
  lastNode = undefined;
  snapshots = 0;
  counts.replaceChildren();
  const url = new URL(location.href);
  url.searchParams.set('match', next);
  history.replaceState(null, '', url);
  document.title = `EmoStream — ${next}`;
  setConnection('connecting', `Asking the directory for a node for ${next}…`);
  token = currentToken();
  userId = tokenSubject(token) ?? anonymousUser;
  const v = createViewer({ directoryUrl: config.directoryUrl, matchIds: [next], token });
  viewer = v;
  let expired = false;
  v.on('expired', (message) => {
    if (v !== viewer) return;
    expired = true;
    setConnection('failed', `Session ended: ${message}. Paste a new token and press Watch.`);
  });
  v.on('connected', (a) => {
    if (v !== viewer) return;
    connection.dataset.node = a.node_id;
    connection.dataset.cluster = a.cluster_id;
    if (lastNode === undefined || lastNode === a.node_id) {
      setConnection('connected', `Watching ${next} on node ${a.node_id} (cluster ${a.cluster_id}).`);
    } else {
      setConnection(
        'reassigned',
        `Re-assigned: node ${lastNode} was lost; now on node ${a.node_id} (cluster ${a.cluster_id}), snapshot received.`,
      );
    }
    lastNode = a.node_id;
  });
  v.on('disconnected', (reason) => {
    if (v !== viewer || expired) return;
    setConnection(
      'reconnecting',
      `Lost node ${lastNode ?? '?'} (${reason}); asking the directory for another…`,
    );
  });
  v.on('error', (err) => {
    if (v !== viewer) return;
    setConnection('failed', `${err.message}. Press Watch to try again.`);
  });
  v.on('snapshot', (snapshot) => {
    if (v !== viewer) return;
    snapshots++;
    connection.dataset.snapshots = String(snapshots);
    // Only the newest window rises: a minute of history at once would be a burst, not the live mood.
    const newest = snapshot.windows.at(-1);
    if (newest !== undefined) stage.show(newest);
    for (const w of snapshot.windows) observe(w);
    renderCounts();
  });
  v.on('swarm', (message) => {
    if (v !== viewer || message.match_id !== next) return;
    const latest = latestWindow();
    if (latest === undefined || message.window_start >= latest.window_start - WINDOW_MS) stage.show(message);
    observe(message);
    renderCounts();
  });
  try {
    await v.start();
  } catch (err) {
    if (v !== viewer) return;
    setConnection(
      'failed',
      `Could not join ${next}: ${(err as Error).message}. Is the stack running (npm start)? Press Watch to try again.`,
    );
  }
}

async function react(emoji: string): Promise<void> {
  const current = match;
  if (current === undefined) {
    reactStatus.textContent = 'Pick a match first.';
    return;
  }
  const tappedAt = Date.now();
  try {
    const res = await fetch(`${config.ingestUrl}/v1/reactions:batch`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({
        reactions: [{ match_id: current, user_id: userId, emoji, timestamp: tappedAt }],
      }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await res.json().catch(() => ({}))) as {
      accepted?: number;
      ingest_ts?: number;
      detail?: string;
    };
    if (res.ok && body.accepted === 1 && typeof body.ingest_ts === 'number') {
      const windowStart = Math.floor(body.ingest_ts / WINDOW_MS) * WINDOW_MS;
      if (current === match) tracker.accepted(current, windowStart, 1, tappedAt);
      reactStatus.textContent = `${emoji} sent; it counts in the window from ${formatWindowSpan(windowStart, windowStart + WINDOW_MS)}.`;
    } else {
      reactStatus.textContent = `${emoji} not counted: ${body.detail ?? `ingest answered ${res.status}`}`;
    }
  } catch (err) {
    reactStatus.textContent = `${emoji} not sent: could not reach ingest (${(err as Error).message}).`;
  }
}

const buttons = $('react-buttons');
PALETTE.forEach((emoji, i) => {
  const b = document.createElement('button');
  b.type = 'button';
  b.dataset.emoji = emoji;
  b.setAttribute('aria-label', `React ${emoji} (key ${i + 1})`);
  b.append(emoji);
  const k = document.createElement('kbd');
  k.textContent = String(i + 1);
  k.setAttribute('aria-hidden', 'true');
  b.append(k);
  b.addEventListener('click', () => void react(emoji));
  buttons.append(b);
});

document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
  const emoji = PALETTE[Number(e.key) - 1];
  if (/^[1-9]$/.test(e.key) && emoji !== undefined) {
    e.preventDefault();
    void react(emoji);
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const value = input.value.trim();
  if (isId(value)) void watch(value);
  else showMatchError(value);
});

const requested = new URLSearchParams(location.search).get('match');
if (requested !== null) {
  if (isId(requested)) {
    input.value = requested;
    void watch(requested);
  } else {
    showMatchError(requested);
  }
}
