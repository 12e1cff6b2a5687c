import { describe, expect, it, vi } from 'vitest';
import {
  BufferClosedError,
  type OutboundRecord,
  ReactionBuffer,
  type RecordSink,
} from './reaction-buffer.ts';

const rec = (i: number): OutboundRecord => ({ key: `u${i}`, value: Buffer.from([i]) });
const recs = (from: number, n: number) => Array.from({ length: n }, (_, i) => rec(from + i));

class ScriptedSink implements RecordSink {
  readonly batches: string[][] = [];
  failures = 0;
  pending: { resolve: () => void; reject: (e: Error) => void; keys: string[] }[] = [];
  manual = false;
  send(records: OutboundRecord[]): Promise<void> {
    const keys = records.map((r) => r.key);
    if (this.manual) return new Promise((resolve, reject) => this.pending.push({ resolve, reject, keys }));
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('broker down'));
    }
    this.batches.push(keys);
    return Promise.resolve();
  }
}

const opts = {
  capacity: 10,
  maxBatch: 4,
  flushIntervalMs: 100,
  maxInFlight: 2,
  retryInitialMs: 10,
  retryMaxMs: 40,
};

describe('ReactionBuffer', () => {
  it('sends a full batch at once and a partial one after the flush interval', async () => {
    vi.useFakeTimers();
    try {
      const sink = new ScriptedSink();
      const buf = new ReactionBuffer(sink, opts);
      buf.add(recs(0, 5));
      await vi.advanceTimersByTimeAsync(0);
      expect(sink.batches).toEqual([['u0', 'u1', 'u2', 'u3']]);
      await vi.advanceTimersByTimeAsync(99);
      expect(sink.batches.length).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(sink.batches).toEqual([['u0', 'u1', 'u2', 'u3'], ['u4']]);
      expect(buf.depth).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('is bounded: refuses, all or none, what would exceed the capacity (in-flight included)', () => {
    const sink = new ScriptedSink();
    sink.manual = true;
    const buf = new ReactionBuffer(sink, opts);
    expect(buf.add(recs(0, 8)).accepted).toBe(true);
    expect(buf.depth).toBe(8);
    expect(buf.add(recs(8, 3))).toEqual({ accepted: false, reason: 'full' });
    expect(buf.add(recs(8, 2)).accepted).toBe(true);
    expect(buf.add(recs(10, 1))).toEqual({ accepted: false, reason: 'full' });
  });

  it('respects the in-flight limit', () => {
    const sink = new ScriptedSink();
    sink.manual = true;
    const buf = new ReactionBuffer(sink, { ...opts, capacity: 100 });
    buf.add(recs(0, 12));
    expect(sink.pending.length).toBe(2);
    sink.pending[0]?.resolve();
    return vi.waitFor(() => expect(sink.pending.length).toBe(3));
  });

  it('retries failed sends until Kafka accepts them: nothing is lost, order within a chunk kept', async () => {
    const sink = new ScriptedSink();
    sink.failures = 3;
    const seen: number[] = [];
    const buf = new ReactionBuffer(sink, opts, { sendFailed: (_n, _e, attempt) => seen.push(attempt) });
    buf.add(recs(0, 6));
    buf.flushNow();
    await vi.waitFor(() => expect(buf.depth).toBe(0), { timeout: 2000 });
    expect(sink.batches.flat().sort()).toEqual(['u0', 'u1', 'u2', 'u3', 'u4', 'u5']);
    expect(sink.batches).toContainEqual(['u0', 'u1', 'u2', 'u3']);
    expect(seen.length).toBe(3);
  });

  it('durable waiters resolve only when all their records are acknowledged, across chunks', async () => {
    const sink = new ScriptedSink();
    sink.manual = true;
    const buf = new ReactionBuffer(sink, { ...opts, maxInFlight: 4 });
    buf.add(recs(0, 2));
    const r = buf.add(recs(2, 4), true);
    if (!r.accepted) throw new Error('refused');
    buf.flushNow();
    let done = false;
    r.acked?.then(() => {
      done = true;
    });
    expect(sink.pending.map((p) => p.keys)).toEqual([
      ['u0', 'u1', 'u2', 'u3'],
      ['u4', 'u5'],
    ]);
    sink.pending[1]?.resolve();
    await new Promise((res) => setTimeout(res, 10));
    expect(done).toBe(false);
    sink.pending[0]?.resolve();
    await r.acked;
    expect(done).toBe(true);
  });

  it('close() flushes everything and reports nothing lost', async () => {
    const sink = new ScriptedSink();
    sink.failures = 1;
    const buf = new ReactionBuffer(sink, { ...opts, flushIntervalMs: 10_000 });
    buf.add(recs(0, 3));
    expect(await buf.close(2000)).toBe(0);
    expect(sink.batches.flat()).toEqual(['u0', 'u1', 'u2']);
    expect(buf.add(recs(3, 1))).toEqual({ accepted: false, reason: 'closed' });
  });

  it('close() past its deadline gives up, says how many, and rejects durable waiters', async () => {
    const sink = new ScriptedSink();
    sink.failures = 1_000_000;
    const buf = new ReactionBuffer(sink, opts);
    const r = buf.add(recs(0, 3), true);
    if (!r.accepted) throw new Error('refused');
    const rejected = expect(r.acked).rejects.toBeInstanceOf(BufferClosedError);
    expect(await buf.close(100)).toBe(3);
    await rejected;
  });
});
