/**
 * Ingest's own batching between HTTP and Kafka (kafkajs has no linger): records are appended to fixed-size chunks
 * and a chunk is sent when it is full or when its oldest record has waited `flushIntervalMs`.
 *
 * Guarantees:
 * - Bounded: `capacity` counts queued AND in-flight records, so memory is bounded even while Kafka is down;
 *   `add` refuses (the caller answers 503) instead of growing.
 * - Nothing accepted is dropped: a chunk whose send fails goes back to the head of the queue and is retried with
 *   exponential backoff for as long as the buffer runs (a broker restart just delays it); new sends pause meanwhile,
 *   so an outage turns into backpressure. Only `close()` with an expired drain deadline gives records up, and it
 *   reports how many.
 * - At-least-once, not exactly-once: a send that failed after the broker wrote part of it (timeout, lost
 *   connection) is retried whole, so some records can reach Kafka twice. Each carries a server-made `event_id`;
 *   the Spark jobs drop a repeated one within their watermark (`source.dedupe` in jobs/spark-sql/<job>.yml), and
 *   any other consumer that must not double count dedupes on it too. (kafkajs' idempotent producer is
 *   experimental and has a known loss bug under concurrency, so it is not used.)
 * - Durable waiters (`add(..., true)`) resolve only when every one of their records is acknowledged by Kafka.
 */

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

interface Waiter {
  remaining: number;
  resolve(): void;
  reject(err: Error): void;
}

interface Chunk {
  records: OutboundRecord[];
  /** Durable waiters with how many of their records are in this chunk; null when none (the common case). */
  waiters: Map<Waiter, number> | null;
  attempts: number;
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

  constructor(
    private readonly sink: RecordSink,
    private readonly options: ReactionBufferOptions,
    private readonly observer: BufferObserver = {},
  ) {
    this.retryDelay = options.retryInitialMs ?? 100;
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
        waiter = { remaining: n, resolve, reject };
      });
    }
    const max = this.options.maxBatch;
    let tail = this.queue[this.queue.length - 1];
    for (let i = 0; i < n; i++) {
      // A chunk already sent once keeps its exact contents for its retries; only fresh chunks take appends.
      if (tail === undefined || tail.records.length >= max || tail.attempts > 0) {
        tail = { records: [], waiters: null, attempts: 0 };
        this.queue.push(tail);
      }
      tail.records.push(records[i] as OutboundRecord);
      if (waiter !== undefined) {
        tail.waiters ??= new Map();
        tail.waiters.set(waiter, (tail.waiters.get(waiter) ?? 0) + 1);
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
        if (chunk.waiters !== null) {
          for (const [w, count] of chunk.waiters) {
            w.remaining -= count;
            if (w.remaining === 0) w.resolve();
          }
        }
        this.afterSettle();
      },
      (err: unknown) => {
        this.inFlight--;
        this.inFlightRecords -= n;
        this.observer.sendFailed?.(n, err, chunk.attempts);
        if (this.closed) {
          const closedErr = new BufferClosedError('shut down before Kafka acknowledged the records');
          for (const w of chunk.waiters?.keys() ?? []) w.reject(closedErr);
          return;
        }
        this.queuedRecords += n;
        this.queue.unshift(chunk);
        if (this.retryTimer === undefined) {
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
        this.afterSettle();
      },
    );
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
      for (const chunk of this.queue) {
        if (chunk.waiters === null) continue;
        for (const w of chunk.waiters.keys()) w.reject(err);
      }
      this.queue.length = 0;
      this.queuedRecords = 0;
    }
    return lost;
  }
}
