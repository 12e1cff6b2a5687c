/**
 * The one errors module of the local runtime. Every error names what failed and what to do about it, so the
 * CLI scripts can print `error.message` alone and exit.
 */
export class RuntimeError extends Error {
  override readonly name: string = 'RuntimeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A prerequisite (JDK, Maven, Python) is missing or too old; the message lists every one of them at once. */
export class PrerequisiteError extends RuntimeError {
  override readonly name = 'PrerequisiteError';
  constructor(readonly missing: string[]) {
    super(`EmoStream's local runtime needs:\n${missing.map((m) => `  - ${m}`).join('\n')}`);
  }
}

/** A download or install step failed; `logFile` holds the tool's full output. */
export class ProvisionError extends RuntimeError {
  override readonly name = 'ProvisionError';
  constructor(
    message: string,
    readonly logFile?: string,
    options?: { cause?: unknown },
  ) {
    super(logFile ? `${message} (full log: ${logFile})` : message, options);
  }
}

/** A port the stack was told to use is taken. */
export class PortInUseError extends RuntimeError {
  override readonly name = 'PortInUseError';
  constructor(
    readonly service: string,
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `${service} cannot listen on ${host}:${port}: the port is already in use. ` +
        'Stop whatever holds it or choose another port.',
    );
  }
}

/** A service exited or did not become ready in time; the message carries the tail of its log. */
export class ServiceError extends RuntimeError {
  override readonly name = 'ServiceError';
  constructor(
    readonly service: string,
    message: string,
    readonly logFile?: string,
    options?: { cause?: unknown },
  ) {
    super(`${service}: ${message}`, options);
  }
}
