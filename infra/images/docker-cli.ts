import { spawn } from 'node:child_process';

/** A command that exited non-zero; carries the exit code and the tail of stderr, like zx's ProcessOutput. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `${command} exited with ${exitCode}${stderr ? `: ${stderr.trim().split('\n').slice(-5).join('\n')}` : ''}`,
    );
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** Stream the child's output to ours, each line prefixed; otherwise capture it. */
  progress?: string;
  /** Lines matching this are not streamed (noise such as the classic builder's intermediate ids). */
  quiet?: RegExp;
  /** Data written to the child's stdin (or a stream piped into it). */
  input?: string | NodeJS.ReadableStream;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a program without a shell; resolves with its stdout, rejects with a CommandError. */
export function run(program: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      // stdout/stderr always piped, so they are never null below.
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    // Bounded: only the tail of stderr is kept for the error message.
    let stderr = '';
    const relay = (chunk: Buffer, toErr: boolean) => {
      const text = chunk.toString();
      if (toErr) stderr = (stderr + text).slice(-8192);
      else if (options.progress === undefined) stdout += text;
      if (options.progress !== undefined) {
        for (const line of text.split('\n'))
          if (line.trim() && !options.quiet?.test(line)) process.stderr.write(`${options.progress}${line}\n`);
      }
    };
    child.stdout?.on('data', (c: Buffer) => relay(c, false));
    child.stderr?.on('data', (c: Buffer) => relay(c, true));
    if (typeof options.input === 'string') child.stdin?.end(options.input);
    else if (options.input) options.input.pipe(child.stdin as NodeJS.WritableStream);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new CommandError([program, ...args].join(' '), code, stderr));
    });
  });
}

/** Environment for the docker CLI: the classic builder, which needs no buildx plugin and no registry. */
export function dockerEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' };
}

/** Runs `docker <args>`. */
export function docker(args: string[], options: RunOptions = {}): Promise<string> {
  return run('docker', args, { env: dockerEnv(), ...options });
}

/** Labels of a local image, or undefined when the image does not exist. */
export async function imageLabels(name: string): Promise<Record<string, string> | undefined> {
  try {
    const out = await docker(['image', 'inspect', '--format', '{{json .Config.Labels}}', name]);
    return (JSON.parse(out) as Record<string, string> | null) ?? {};
  } catch (error) {
    if (error instanceof CommandError && /No such image/i.test(error.stderr)) return undefined;
    throw error;
  }
}

/** The id of a local image (content address); used to key images built on top of it. */
export async function imageId(name: string): Promise<string> {
  return (await docker(['image', 'inspect', '--format', '{{.Id}}', name])).trim();
}
