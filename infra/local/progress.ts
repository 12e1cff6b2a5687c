/**
 * Human progress for long steps: one line per step with its elapsed time, and a status that updates in place on
 * a terminal (or at most every few seconds on a pipe, so CI logs show life without flooding).
 */
export interface Progress {
  /** Runs `fn` as a named step; `update` replaces the step's status line. */
  step<T>(label: string, fn: (update: (status: string) => void) => Promise<T>): Promise<T>;
  /** Reports a step that had nothing to do. */
  skip(label: string, why: string): void;
  info(message: string): void;
}

export interface ProgressOptions {
  out?: NodeJS.WriteStream;
  /** Minimum interval between status lines when `out` is not a terminal. @default 5000 */
  pipeIntervalMs?: number;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function createProgress(options: ProgressOptions = {}): Progress {
  const out = options.out ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const pipeInterval = options.pipeIntervalMs ?? 5000;
  const width = () => (tty && out.columns ? out.columns - 1 : 200);

  return {
    async step(label, fn) {
      const started = Date.now();
      let lastPrinted = 0;
      let dirty = false;
      out.write(`▸ ${label}\n`);
      const update = (status: string) => {
        const now = Date.now();
        const line = `  ${label}: ${status} (${seconds(now - started)})`;
        if (tty) {
          out.write(`\r\x1b[K${line.slice(0, width())}`);
          dirty = true;
        } else if (now - lastPrinted >= pipeInterval) {
          out.write(`${line}\n`);
          lastPrinted = now;
        }
      };
      const clear = () => {
        if (dirty) out.write('\r\x1b[K');
      };
      try {
        const result = await fn(update);
        clear();
        out.write(`✓ ${label} (${seconds(Date.now() - started)})\n`);
        return result;
      } catch (error) {
        clear();
        out.write(`✗ ${label} (${seconds(Date.now() - started)})\n`);
        throw error;
      }
    },
    skip(label, why) {
      out.write(`✓ ${label} (${why})\n`);
    },
    info(message) {
      out.write(`${message}\n`);
    },
  };
}
