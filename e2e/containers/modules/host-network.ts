import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import type { WaitStrategy } from 'testcontainers';

/** Label put on every container the suite starts, so a cleanup step can find leftovers after a crash. */
export const SUITE_LABEL = 'org.emostream.suite';

/**
 * A free TCP port on 127.0.0.1. The containers share the host's network namespace, so they are told which ports
 * to bind; the port is released before the service takes it (a tiny race accepted in tests).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

/**
 * Waits until a probe run from the host succeeds. With host networking there are no mapped ports for the usual
 * strategies to use, and the host's view is the one tests need anyway. Fails early, with the container's log
 * tail, when the container exits.
 */
export class HostProbeWaitStrategy implements WaitStrategy {
  private startupTimeoutMs = 60_000;
  private startupTimeoutSet = false;

  constructor(
    private readonly description: string,
    private readonly probe: (container: Dockerode.Container) => Promise<boolean>,
    private readonly intervalMs = 250,
  ) {}

  withStartupTimeout(startupTimeoutMs: number): this {
    this.startupTimeoutMs = startupTimeoutMs;
    this.startupTimeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.startupTimeoutSet;
  }

  getStartupTimeout(): number {
    return this.startupTimeoutMs;
  }

  async waitUntilReady(container: Dockerode.Container): Promise<void> {
    const deadline = Date.now() + this.startupTimeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      const state = (await container.inspect()).State;
      if (!state.Running) {
        const logs = await container.logs({ stdout: true, stderr: true, tail: 40 });
        throw new Error(
          `container exited (code ${state.ExitCode}) before ${this.description}:\n${logs.toString('utf8')}`,
        );
      }
      try {
        if (await this.probe(container)) return;
      } catch (error) {
        lastError = error;
      }
      await sleep(this.intervalMs);
    }
    const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
    throw new Error(`timed out after ${this.startupTimeoutMs} ms waiting for ${this.description}${why}`);
  }
}

/** Runs a command inside a container and resolves with its exit code (output is discarded). */
export async function execExitCode(container: Dockerode.Container, cmd: string[]): Promise<number> {
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('error', reject);
    stream.resume();
  });
  return (await exec.inspect()).ExitCode ?? -1;
}

/** An HTTP GET from the host that answers 2xx. */
export async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.ok;
}
