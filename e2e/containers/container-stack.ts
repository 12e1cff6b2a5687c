import type { StartedTestContainer } from 'testcontainers';

/**
 * The containers one suite started, stopped (and removed) in reverse order however the suite ends: a failed
 * start, a failed test, or success. Each container is recorded the moment it is up, so a sibling that fails to
 * start never leaves the others running.
 */
export class ContainerStack implements AsyncDisposable {
  private readonly started: StartedTestContainer[] = [];

  /** Awaits a container start and keeps the container for {@link ContainerStack.stopAll}. */
  async add<T extends StartedTestContainer>(starting: Promise<T>): Promise<T> {
    const container = await starting;
    this.started.push(container);
    return container;
  }

  /** Starts several containers at once; if any fails, the ones that started stay recorded and the error is thrown. */
  async addAll<T extends readonly Promise<StartedTestContainer>[]>(
    starting: T,
  ): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
    const settled = await Promise.allSettled(starting.map((p) => this.add(p)));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<StartedTestContainer>).value) as {
      -readonly [K in keyof T]: Awaited<T[K]>;
    };
  }

  /** Last lines of every container's log, for a failure message. */
  async logTails(lines = 30): Promise<string> {
    const parts: string[] = [];
    for (const c of this.started) {
      const stream = await c.logs({ tail: lines });
      const chunks: Buffer[] = [];
      stream.on('data', (d: Buffer) => chunks.push(Buffer.from(d)));
      await new Promise<void>((resolve) => {
        stream.on('end', resolve);
        stream.on('error', () => resolve());
        // A log stream of a running container follows; stop reading after a moment.
        setTimeout(resolve, 1_000).unref();
      });
      parts.push(`--- ${c.getName()} ---\n${Buffer.concat(chunks).toString('utf8')}`);
    }
    return parts.join('\n');
  }

  /** Stops and removes every container, newest first; reports all failures together. */
  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    while (this.started.length > 0) {
      const c = this.started.pop() as StartedTestContainer;
      try {
        await c.stop({ timeout: 10_000, remove: true, removeVolumes: true });
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} container(s) failed to stop`);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stopAll();
  }
}
