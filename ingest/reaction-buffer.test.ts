import { describe, expect, it, vi } from 'vitest';
import {
  BufferClosedError,
  type OutboundRecord,
  ReactionBuffer,
  RecordNotStoredError,
  type RecordSink,
} from './reaction-buffer.ts';
import { KafkaSendError, PartialSendError } from './send-errors.ts';

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

  describe('records the broker refuses on their own', () => {
    const tooLarge = () =>
      new KafkaSendError({
        name: 'KafkaJSProtocolError',
        message: 'too large',
        retriable: false,
        type: 'MESSAGE_TOO_LARGE',
      });
    /**
     * A broker with a size limit: a send whose records include a poison key is refused whole (one partition), and
     * counts every send. `partitions` > 1 puts records on `key % partitions` and refuses only the poisoned groups.
     */
    class LimitSink implements RecordSink {
      readonly written: string[] = [];
      sends = 0;
      constructor(
        readonly poison: Set<string>,
        readonly partitions = 1,
      ) {}
      async send(records: OutboundRecord[]): Promise<void> {
        this.sends++;
        const groups = new Map<number, number[]>();
        records.forEach((r, i) => {
          const p = Number(r.key.slice(1)) % this.partitions;
          groups.set(p, [...(groups.get(p) ?? []), i]);
        });
        const failures = [];
        for (const indices of groups.values()) {
          if (indices.some((i) => this.poison.has((records[i] as OutboundRecord).key))) {
            failures.push({ indices, error: tooLarge() });
          } else for (const i of indices) this.written.push((records[i] as OutboundRecord).key);
        }
        if (failures.length > 0) throw new PartialSendError(failures);
      }
    }

    it('splits a refused batch until the poison records are isolated: they are dead letters, the rest is written once', async () => {
      const sink = new LimitSink(new Set(['u2', 'u13']));
      const dead: string[] = [];
      const buf = new ReactionBuffer(
        sink,
        { ...opts, capacity: 100, maxBatch: 16, maxInFlight: 1 },
        { deadLettered: (r, e) => dead.push(`${r.key}:${(e as KafkaSendError).type}`) },
      );
      const durable = buf.add(recs(0, 8), true);
      const other = buf.add(recs(8, 8), true);
      if (!durable.accepted || !other.accepted) throw new Error('refused');
      buf.flushNow();
      const [a, b] = await Promise.allSettled([durable.acked, other.acked]);
      expect(dead.sort()).toEqual(['u13:MESSAGE_TOO_LARGE', 'u2:MESSAGE_TOO_LARGE']);
      expect(sink.written.sort()).toEqual(
        recs(0, 16)
          .map((r) => r.key)
          .filter((k) => k !== 'u2' && k !== 'u13')
          .sort(),
      );
      expect(new Set(sink.written).size).toBe(sink.written.length);
      // Each waiter learns exactly which of its records were refused, once the others are acknowledged.
      for (const [res, key] of [
        [a, 'u2'],
        [b, 'u13'],
      ] as const) {
        expect(res?.status).toBe('rejected');
        const err = (res as PromiseRejectedResult).reason;
        expect(err).toBeInstanceOf(RecordNotStoredError);
        expect((err as RecordNotStoredError).refused.map((r) => r.record.key)).toEqual([key]);
      }
      // Bounded: 16 records, two poison ones, halved at most log2(16) = 4 times: 1 + 2 + 4 + 4 + 4 sends.
      expect(sink.sends).toBeLessThanOrEqual(15);
      expect(buf.depth).toBe(0);
      expect(buf.retrying).toBe(false);
    });

    it('keeps flowing after a poison record: later reactions are written, nothing waits for a retry', async () => {
      const sink = new LimitSink(new Set(['u0']));
      const buf = new ReactionBuffer(sink, { ...opts, capacity: 100, retryInitialMs: 60_000 });
      buf.add(recs(0, 4));
      buf.flushNow();
      const later = buf.add(recs(4, 4), true);
      if (!later.accepted) throw new Error('refused');
      buf.flushNow();
      await later.acked;
      await vi.waitFor(() => expect(buf.depth).toBe(0));
      expect(buf.retrying).toBe(false);
      expect(sink.written).toEqual(expect.arrayContaining(['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']));
    });

    it('acknowledges the partitions a partial send wrote and resends only the refused ones', async () => {
      const sink = new LimitSink(new Set(['u3']), 2);
      const buf = new ReactionBuffer(sink, { ...opts, capacity: 100, maxBatch: 8 });
      const r = buf.add(recs(0, 8), true);
      if (!r.accepted) throw new Error('refused');
      buf.flushNow();
      await expect(r.acked).rejects.toBeInstanceOf(RecordNotStoredError);
      expect(sink.written.sort()).toEqual(['u0', 'u1', 'u2', 'u4', 'u5', 'u6', 'u7']);
    });

    it('retries, not splits, what the broker refuses for a reason an operator can fix', async () => {
      let refusals = 2;
      const sends: number[] = [];
      const sink: RecordSink = {
        async send(records) {
          sends.push(records.length);
          if (refusals-- > 0) {
            throw new PartialSendError([
              {
                indices: records.map((_, i) => i),
                error: new KafkaSendError({
                  name: 'KafkaJSProtocolError',
                  message: 'not enough replicas',
                  retriable: true,
                  type: 'NOT_ENOUGH_REPLICAS',
                }),
              },
            ]);
          }
        },
      };
      const dead = vi.fn();
      const buf = new ReactionBuffer(sink, opts, { deadLettered: dead });
      const r = buf.add(recs(0, 4), true);
      if (!r.accepted) throw new Error('refused');
      buf.flushNow();
      await r.acked;
      expect(sends).toEqual([4, 4, 4]);
      expect(dead).not.toHaveBeenCalled();
    });
  });
});
