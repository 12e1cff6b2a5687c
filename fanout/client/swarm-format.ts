/**
 * One compact terminal line per window state, shared by `npm run client` and `npm start -- --demo`:
 * `12:00:04–06  🔥×3 (3785)  👏×1 (12)` — window start–end (local time, the end as seconds only when the minute
 * is the same), then per emoji the swarm size and the count, biggest count first.
 */
import type { SwarmWindow } from '../../common/socket-events.ts';

const pad = (n: number) => String(n).padStart(2, '0');

/** `hh:mm:ss–ss` (or `hh:mm:ss–hh:mm:ss` across a minute) in local time. */
export function formatWindowSpan(start: number, end: number): string {
  const s = new Date(start);
  const e = new Date(end);
  const head = `${pad(s.getHours())}:${pad(s.getMinutes())}:${pad(s.getSeconds())}`;
  const sameMinute = s.getHours() === e.getHours() && s.getMinutes() === e.getMinutes();
  return sameMinute
    ? `${head}–${pad(e.getSeconds())}`
    : `${head}–${pad(e.getHours())}:${pad(e.getMinutes())}:${pad(e.getSeconds())}`;
}

/** `🔥×3 (3785)  👏×1 (12)`: emojis by count, descending; at most `maxEmojis`, the rest summed as `+N more`. */
export function formatSwarm(window: Pick<SwarmWindow, 'counts' | 'swarm'>, maxEmojis = 8): string {
  const entries = Object.entries(window.counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = entries
    .slice(0, maxEmojis)
    .map(([emoji, count]) => `${emoji}×${window.swarm[emoji] ?? 0} (${count})`);
  if (entries.length > maxEmojis) shown.push(`+${entries.length - maxEmojis} more`);
  return shown.join('  ');
}

/** The whole line of one window state. */
export function formatWindowLine(window: SwarmWindow): string {
  return `${formatWindowSpan(window.window_start, window.window_end)}  ${formatSwarm(window)}`;
}

/** The swarm rule of the emoji-swarm job with its default divisor: 1 up to the divisor, floor(count/divisor) above. */
export function swarmSize(count: number, divisor = 1000): number {
  return count <= divisor ? 1 : Math.floor(count / divisor);
}
