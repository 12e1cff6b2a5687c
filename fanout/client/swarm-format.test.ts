import { describe, expect, it } from 'vitest';
import { formatSwarm, formatWindowLine, formatWindowSpan, swarmSize } from './swarm-format.ts';

const at = (h: number, m: number, s: number) => new Date(2026, 0, 1, h, m, s).getTime();

describe('swarm-format', () => {
  it('writes the window as start–end seconds within a minute, in full across one', () => {
    expect(formatWindowSpan(at(12, 0, 4), at(12, 0, 6))).toBe('12:00:04–06');
    expect(formatWindowSpan(at(12, 0, 58), at(12, 1, 0))).toBe('12:00:58–12:01:00');
  });

  it('lists emojis by count, biggest first, with swarm and count', () => {
    const line = formatWindowLine({
      match_id: 'm',
      window_start: at(12, 0, 4),
      window_end: at(12, 0, 6),
      counts: { '👏': 12, '🔥': 3785 },
      swarm: { '👏': 1, '🔥': 3 },
      emitted_at: 0,
      routed_at: 0,
      aggregated_at: null,
    });
    expect(line).toBe('12:00:04–06  🔥×3 (3785)  👏×1 (12)');
  });

  it('cuts long lists with a count of the rest', () => {
    const counts = { a: 5, b: 4, c: 3 };
    expect(formatSwarm({ counts, swarm: { a: 1, b: 1, c: 1 } }, 2)).toBe('a×1 (5)  b×1 (4)  +1 more');
  });

  it('follows the scaling rule', () => {
    expect([1, 999, 1000, 1001, 1999, 2000, 3785].map((n) => swarmSize(n))).toEqual([1, 1, 1, 1, 1, 2, 3]);
  });
});
