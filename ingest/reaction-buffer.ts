/**
 * Ingest's own batching between HTTP and Kafka (kafkajs has no linger): records are appended to fixed-size chunks
 * and a chunk is sent when it is full or when its oldest record has waited `flushIntervalMs`.
 *
 * Guarantees:
 * - Bounded: `capacity` counts queued AND in-flight records, so memory is bounded even while Kafka is down;
 *   `add` refuses (the caller answers 503) instead of growing.
 * - Nothing accepted is dropped silently. What a failed send did not write is classified (send-errors.ts):
 *   - retriable errors and refusals an operator can fix go back to the head of the queue and are retried with
 *     exponential backoff for as long as the buffer runs (a broker restart just delays them); new sends pause
 *     meanwhile, so an outage turns into backpressure;
 *   - records the broker refuses as such (too large, invalid) are split in halves and sent again at once, until
 *     the ones refused on their own are isolated (at most log2(maxBatch) rounds); each of those is handed to
 *     `observer.deadLettered` (the dead-letter file) and its durable waiter is rejected with
 *     {@link RecordNotStoredError}; the rest flows on, so one bad record can never wedge the head.
 *   Only `close()` with an expired drain deadline gives records up otherwise, and it reports how many.
 * - At-least-once, not exactly-once: a send that failed after the broker wrote part of it (timeout, lost
 *   connection) is retried whole, so some records can reach Kafka twice. Each carries a server-made `event_id`;
 *   the Spark jobs drop a repeated one within their watermark (`source.dedupe` in jobs/spark-sql/<job>.yml), and
 *   any other consumer that must not double count dedupes on it too. (kafkajs' idempotent producer is
 *   experimental and has a known loss bug under concurrency, so it is not used.)
 * - Durable waiters (`add(..., true)`) resolve only when every one of their records is acknowledged by Kafka.
 *   A sink may report that only some records of a send were written ({@link PartialSendError}); those count as
 *   acknowledged and only the others are retried or split.
 */
import { classifySendError, PartialSendError } from './send-errors.ts';

/** One Kafka record as the sink sends it. */
export interface OutboundRecord {
  key: string;
  value: Buffer;
}

/** Narrow interface to the Kafka producer: resolves once all records are acknowledged (acks = all). */
export interface RecordSink {
  send(records: OutboundRecord[]): Promise<void>;
}

/** Observer for metrics; every hook is optional. */
export interface BufferObserver {
  flushed?(records: number, seconds: number): void;
  sendFailed?(records: number, error: unknown, attempt: number): void;
  /** Records refused as such were split in two halves (`depth`: how many times their chunk was halved). */
  split?(records: number, error: Error, depth: number): void;
  /** A record the broker refuses on its own; it leaves the buffer here and is not retried. */
  deadLettered?(record: OutboundRecord, error: Error): void;
}

/** Options of {@link ReactionBuffer}. */
export interface ReactionBufferOptions {
  /** Most records queued or in flight. */
  capacity: number;
  /** Most records in one send. */
  maxBatch: number;
  /** Longest a record waits before its chunk is sent, ms (≤ 500 by the architecture). */
  flushIntervalMs: number;
  /** Sends in flight at once. */
  maxInFlight: number;
  /** First retry delay after a failed send, ms; doubles up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** Raised to durable waiters whose records could not be delivered before shutdown. */
export class BufferClosedError extends Error {
  override readonly name = 'BufferClosedError';
}

/** One record the broker refused on its own, and why. */
export interface RefusedRecord {
  record: OutboundRecord;
  error: Error;
}

/**
 * Raised to a durable waiter once all its records are settled and some were refused by the broker on their own
 * (dead letters); the others of the same `add` were acknowledged.
 */
export class RecordNotStoredError extends Error {
  override readonly name = 'RecordNotStoredError';
  constructor(readonly refused: readonly RefusedRecord[]) {
    const first = refused[0]?.error;
    super(
      `Kafka refused ${refused.length} record${refused.length === 1 ? '' : 's'}${first ? `: ${first.message}` : ''}`,
      {
        cause: first,
      },
    );
  }
}

interface Waiter {
  remaining: number;
  /** Records of this waiter the broker refused; null while none. */
  refused: RefusedRecord[] | null;
  resolve(): void;
  reject(err: Error): void;
}

interface Chunk {
  records: OutboundRecord[];
  /** The durable waiter of each record (parallel to `records`); null when none has one (the common case). */
  owners: (Waiter | undefined)[] | null;
  attempts: number;
  /** How many times this chunk's records were halved to isolate refused records. */
  splitDepth: number;
}

function settleOne(w: Waiter): void {
  w.remaining--;
  if (w.remaining > 0) return;
  if (w.refused === null) w.resolve();
  else w.reject(new RecordNotStoredError(w.refused));
}

/** Result of {@link ReactionBuffer.add}. */
export type AddResult =
  | { accepted: true; acked?: Promise<void> }
  | { accepted: false; reason: 'full' | 'closed' };

export class ReactionBuffer {
  private readonly queue: Chunk[] = [];
  private inFlight = 0;
  private inFlightRecords = 0;
  private queuedRecords = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private closing = false;
  /** Set once close() returned: late failures of sends still in flight are given up, not retried. */
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Most halvings of one chunk: enough to isolate any record of a full chunk, never more. */
  private readonly maxSplitDepth: number;

  constructor(
    private readonly sink: RecordSink,
    private readonly options: ReactionBufferOptions,
    private readonly observer: BufferObserver = {},
  ) {
    this.retryDelay = options.retryInitialMs ?? 100;
    this.maxSplitDepth = Math.ceil(Math.log2(Math.max(1, options.maxBatch)));
  }

  /** Records queued or in flight. */
  get depth(): number {
    return this.queuedRecords + this.inFlightRecords;
  }

  get capacity(): number {
    return this.options.capacity;
  }

  /** True while a failed send waits for its retry (Kafka unreachable or refusing). */
  get retrying(): boolean {
    return this.retryTimer !== undefined;
  }

  /**
   * Appends records, all or none. With `durable`, `acked` resolves when Kafka acknowledged all of them, or rejects
   * with {@link BufferClosedError} if shutdown gave them up.
   */
  add(records: readonly OutboundRecord[], durable = false): AddResult {
    if (this.closing) return { accepted: false, reason: 'closed' };
    const n = records.length;
    if (n === 0) return { accepted: true, acked: durable ? Promise.resolve() : undefined };
    if (this.depth + n > this.options.capacity) return { accepted: false, reason: 'full' };
    let waiter: Waiter | undefined;
    let acked: Promise<void> | undefined;
    if (durable) {
      acked = new Promise<void>((resolve, reject) => {
        waiter = { remaining: n, refused: null, resolve, reject };
      });
    }
    const max = this.options.maxBatch;
    let tail = this.queue[this.queue.length - 1];
    for (let i = 0; i < n; i++) {
      // A chunk already sent once keeps its exact contents for its retries; only fresh chunks take appends.
      if (tail === undefined || tail.records.length >= max || tail.attempts > 0) {
        tail = { records: [], owners: null, attempts: 0, splitDepth: 0 };
        this.queue.push(tail);
      }
      tail.records.push(records[i] as OutboundRecord);
      if (waiter !== undefined || tail.owners !== null) {
        tail.owners ??= new Array<Waiter | undefined>(tail.records.length - 1).fill(undefined);
        tail.owners.push(waiter);
      }
    }
    this.queuedRecords += n;
    const head = this.queue[0] as Chunk;
    if (head.records.length >= max || this.queue.length > 1) this.pump();
    else this.timer ??= setTimeout(this.onTimer, this.options.flushIntervalMs);
    return { accepted: true, acked };
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.pump(true);
  };

  /** Sends ready chunks while there is room in flight; `all` also sends a partly filled last chunk. */
  private pump(all = false): void {
    if (this.retryTimer !== undefined) return;
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const head = this.queue[0] as Chunk;
      const full = head.records.length >= this.options.maxBatch || this.queue.length > 1 || head.attempts > 0;
      if (!full && !all && !this.closing) break;
      this.queue.shift();
      this.send(head);
    }
    if (this.queue.length > 0 && this.timer === undefined && this.retryTimer === undefined) {
      // A partial chunk left behind (in-flight limit reached, or not yet due) gets its deadline.
      this.timer = setTimeout(this.onTimer, this.options.flushIntervalMs);
    }
  }

  private send(chunk: Chunk): void {
    const n = chunk.records.length;
    this.queuedRecords -= n;
    this.inFlight++;
    this.inFlightRecords += n;
    chunk.attempts++;
    const started = performance.now();
    this.sink.send(chunk.records).then(
      () => {
        this.inFlight--;
        this.inFlightRecords -= n;
        this.retryDelay = this.options.retryInitialMs ?? 100;
        this.observer.flushed?.(n, (performance.now() - started) / 1000);
        if (chunk.owners !== null) for (const w of chunk.owners) if (w !== undefined) settleOne(w);
        this.afterSettle();
      },
      (err: unknown) => {
        this.inFlight--;
        this.inFlightRecords -= n;
        this.observer.sendFailed?.(n, err, chunk.attempts);
        this.onFailure(chunk, err);
      },
    );
  }

  /** What a failed send did not write is retried, split or dead-lettered; what it wrote is acknowledged. */
  private onFailure(chunk: Chunk, err: unknown): void {
    const groups: { chunk: Chunk; error: Error }[] = [];
    if (err instanceof PartialSendError) {
      const unwritten = new Uint8Array(chunk.records.length);
      for (const f of err.failures) {
        const part: Chunk = {
          records: [],
          owners: null,
          attempts: chunk.attempts,
          splitDepth: chunk.splitDepth,
        };
        // Indices are ascending within a group, so a part keeps the chunk's order.
        for (let k = 0; k < f.indices.length; k++) {
          const i = f.indices[k] as number;
          if (i >= chunk.records.length || unwritten[i] === 1) continue;
          unwritten[i] = 1;
          part.records.push(chunk.records[i] as OutboundRecord);
          if (chunk.owners !== null) {
            part.owners ??= [];
            part.owners.push(chunk.owners[i]);
          }
        }
        if (part.records.length > 0) groups.push({ chunk: part, error: f.error });
      }
      if (chunk.owners !== null) {
        for (let i = 0; i < chunk.owners.length; i++) {
          const w = chunk.owners[i];
          if (w !== undefined && unwritten[i] === 0) settleOne(w);
        }
      }
    } else {
      groups.push({ chunk, error: err instanceof Error ? err : new Error(String(err)) });
    }

    if (this.closed) {
      const closedErr = new BufferClosedError('shut down before Kafka acknowledged the records');
      for (const g of groups) for (const w of g.chunk.owners ?? []) w?.reject(closedErr);
      return;
    }
    let retry = false;
    // Unshifted in reverse, so the head of the queue keeps the chunk's order.
    for (let gi = groups.length - 1; gi >= 0; gi--) {
      const { chunk: part, error } = groups[gi] as { chunk: Chunk; error: Error };
      if (classifySendError(error) === 'split') this.splitOrDeadLetter(part, error);
      else {
        this.queuedRecords += part.records.length;
        this.queue.unshift(part);
        retry = true;
      }
    }
    if (retry) this.scheduleRetry();
    this.afterSettle();
  }

  /** Halves a refused chunk at the head of the queue, or dead-letters its record once it holds only one. */
  private splitOrDeadLetter(chunk: Chunk, error: Error): void {
    const n = chunk.records.length;
    if (n === 1 || chunk.splitDepth >= this.maxSplitDepth) {
      for (let i = 0; i < n; i++) {
        const record = chunk.records[i] as OutboundRecord;
        this.observer.deadLettered?.(record, error);
        const w = chunk.owners?.[i];
        if (w !== undefined) {
          w.refused ??= [];
          w.refused.push({ record, error });
          settleOne(w);
        }
      }
      return;
    }
    const mid = n >>> 1;
    const half = (from: number, to: number): Chunk => ({
      records: chunk.records.slice(from, to),
      owners: chunk.owners === null ? null : chunk.owners.slice(from, to),
      // Sent as they are: a chunk with attempts takes no appends.
      attempts: Math.max(1, chunk.attempts),
      splitDepth: chunk.splitDepth + 1,
    });
    this.observer.split?.(n, error, chunk.splitDepth + 1);
    this.queue.unshift(half(0, mid), half(mid, n));
    this.queuedRecords += n;
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.retryMaxMs ?? 5000);
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump(true);
    }, delay);
  }

  private afterSettle(): void {
    if (this.retryTimer === undefined) {
      // Keep full chunks moving; while closing, everything is due.
      this.pump(this.closing);
    }
    if (this.depth === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Sends everything queued now, without waiting for the interval (used by tests and shutdown). */
  flushNow(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pump(true);
  }

  /**
   * Stops accepting, sends everything and waits until Kafka acknowledged it or `timeoutMs` passed.
   * Returns the number of records given up (0 when all were delivered); their durable waiters are rejected.
   */
  async close(timeoutMs: number): Promise<number> {
    this.closing = true;
    this.flushNow();
    if (this.depth > 0) {
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          deadline = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(deadline);
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
    this.closed = true;
    const lost = this.depth;
    if (lost > 0) {
      const err = new BufferClosedError(`shut down with ${lost} records not acknowledged by Kafka`);
      for (const chunk of this.queue) for (const w of chunk.owners ?? []) w?.reject(err);
      this.queue.length = 0;
      this.queuedRecords = 0;
    }
    return lost;
  }
}
