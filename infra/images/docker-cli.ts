import type { Readable } from 'node:stream';
import { $, ProcessOutput, type ProcessPromise } from 'zx';

/** Environment for the docker CLI: the classic builder, which needs no buildx plugin and no registry. */
export function dockerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' };
}

/** How {@link docker} runs the CLI. */
export interface DockerOptions {
  /** Stream the child's output to our stderr, each line prefixed (long builds show life); otherwise capture it. */
  progress?: string;
  /** Lines matching this are not streamed (noise such as the classic builder's intermediate ids). */
  quiet?: RegExp;
  /** Data written to the CLI's stdin, e.g. a tarball for `docker import -`. */
  input?: string | Readable;
}

/**
 * Streams a running command's stdout and stderr to our stderr, one prefixed line at a time; the output is still
 * kept on the command's ProcessOutput, so a failure carries its stderr.
 */
export function streamLines<P extends ProcessPromise>(proc: P, prefix: string, quiet?: RegExp): P {
  const relay = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n'))
      if (line.trim() && !quiet?.test(line)) process.stderr.write(`${prefix}${line}\n`);
  };
  proc.stdout.on('data', relay);
  proc.stderr.on('data', relay);
  return proc;
}

/**
 * Runs `docker <args>` (each argument quoted by zx, no shell expansion); resolves with its stdout, rejects with
 * zx's {@link ProcessOutput} (exit code and stderr).
 */
export async function docker(args: string[], options: DockerOptions = {}): Promise<string> {
  const proc = $({ env: dockerEnv(), input: options.input, quiet: true })`docker ${args}`;
  if (options.progress !== undefined) streamLines(proc, options.progress, options.quiet);
  return (await proc).stdout;
}

/** Labels of a local image, or undefined when the image does not exist. */
export async function imageLabels(name: string): Promise<Record<string, string> | undefined> {
  try {
    const out = await docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', name]);
    return (JSON.parse(out) as Record<string, string> | null) ?? {};
  } catch (error) {
    if (error instanceof ProcessOutput && /No such image/i.test(error.stderr)) return undefined;
    throw error;
  }
}

/** The id of a local image (content address); used to key images built on top of it. */
export async function imageId(name: string): Promise<string> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', name])).trim();
}
