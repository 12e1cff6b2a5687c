import { describe, expect, it } from 'vitest';
import { WINDOW_MS, WindowLedger } from './window-ledger.ts';

const W = 1_000_000 * WINDOW_MS;
const state = (window_start: number, emitted_at: number, counts: Record<string, number>) => ({
  match_id: 'm',
  window_start,
  emitted_at,
  counts,
});

describe('WindowLedger', () => {
  it('calls a window exact when viewers saw what was acknowledged, per mode', () => {
    const l = new WindowLedger();
    l.acked('m', W + 10, { '🔥': 3, '❤️': 2 });
    l.acked('m', W + 1500, { '👏': 1 });
    l.observed(state(W, 1, { '🔥': 3, '👏': 1, '❤️': 2 }));
    const [v] = l.verdicts(W, W + WINDOW_MS);
    expect(v?.durable).toEqual({ acked: 4, seen: 4, lost: 0, doubled: 0, unacked_landed: 0 });
    expect(v?.async).toEqual({ acked: 2, seen: 2, lost: 0, excess: 0 });
  });

  it('judges the latest state by the window-state rule, not the last one to arrive', () => {
    const l = new WindowLedger();
    l.acked('m', W, { '🔥': 5 });
    l.observed(state(W, 2, { '🔥': 5 }));
    // A late delivery of an older state (a replayed snapshot) must not replace the newer one.
    l.observed(state(W, 1, { '🔥': 2 }));
    expect(l.verdicts(W, W + 1)[0]?.durable.lost).toBe(0);
  });

  it('counts a durable shortfall as lost and an unexplained surplus as doubled', () => {
    const l = new WindowLedger();
    l.acked('m', W, { '🔥': 10 });
    l.acked('m', W + WINDOW_MS, { '🔥': 10 });
    l.observed(state(W, 1, { '🔥': 7 }));
    l.observed(state(W + WINDOW_MS, 1, { '🔥': 12 }));
    const [a, b] = l.verdicts(W, W + 2 * WINDOW_MS);
    expect(a?.durable).toMatchObject({ lost: 3, doubled: 0 });
    expect(b?.durable).toMatchObject({ lost: 0, doubled: 2 });
  });

  it('puts a surplus down to failed requests sent up to the request timeout before, never more than they held', () => {
    const l = new WindowLedger({ requestTimeoutMs: 4000 });
    l.failed('m', W - WINDOW_MS, { '🔥': 2 });
    l.acked('m', W + WINDOW_MS, { '🔥': 10 });
    l.observed(state(W + WINDOW_MS, 1, { '🔥': 13 }));
    const [v] = l.verdicts(W + WINDOW_MS, W + 2 * WINDOW_MS);
    expect(v?.durable).toMatchObject({ unacked_landed: 2, doubled: 1 });
    // Too long before: it cannot explain anything.
    const late = new WindowLedger({ requestTimeoutMs: 2000 });
    late.failed('m', W - 2 * WINDOW_MS, { '🔥': 2 });
    late.observed(state(W, 1, { '🔥': 2 }));
    expect(late.verdicts(W, W + 1)[0]?.durable).toMatchObject({ unacked_landed: 0, doubled: 2 });
  });

  it('states async loss and excess apart from durable figures', () => {
    const l = new WindowLedger();
    l.acked('m', W, { '❤️': 4, '😂': 1 });
    l.observed(state(W, 1, { '❤️': 3, '😂': 2 }));
    const [v] = l.verdicts(W, W + 1);
    expect(v?.async).toEqual({ acked: 5, seen: 5, lost: 1, excess: 1 });
    expect(v?.durable).toMatchObject({ acked: 0, lost: 0, doubled: 0 });
  });

  it('judges only windows in the range asked for', () => {
    const l = new WindowLedger();
    l.acked('m', W - WINDOW_MS, { '🔥': 1 });
    l.acked('m', W, { '🔥': 1 });
    expect(l.verdicts(W, W + WINDOW_MS).map((v) => v.window_start)).toEqual([W]);
  });
});
