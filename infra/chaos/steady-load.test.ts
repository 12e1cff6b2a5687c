import { describe, expect, it } from 'vitest';
import { createGapTracker } from './steady-load.ts';

describe('createGapTracker', () => {
  it('gives the longest wait between messages that overlaps the span, a wait still open counted to its end', () => {
    const g = createGapTracker(8, 1000);
    for (const at of [0, 2000, 4000, 11_000, 13_000, 14_000]) g.note(at);
    // 4000 → 11000 overlaps (5000, 20000]; so does the open wait 14000 → 20000.
    expect(g.longest(5000, 12_000)).toBe(7000);
    expect(g.longest(12_000, 20_000)).toBe(6000);
    // Before the long wait: the 2 s waits only.
    expect(g.longest(0, 3000)).toBe(2000);
    // A wait that overlaps the span only in part is clipped at its end, not at its start (the viewer was waiting).
    expect(g.longest(10_000, 10_500)).toBe(6500);
  });

  it('keeps a bounded number of waits and none below the floor', () => {
    const g = createGapTracker(2, 1000);
    for (const at of [0, 5000, 5500, 7000, 9000, 9100]) g.note(at);
    // 0 → 5000 was pushed out by 5500 → 7000 and 7000 → 9000; 5000 → 5500 was under the floor.
    expect(g.longest(0, 9100)).toBe(2000);
  });
});
