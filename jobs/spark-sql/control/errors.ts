/** Raised for a job that cannot be parsed, submitted, stopped or tested; the message says what to fix. */
export class JobError extends Error {
  override readonly name = 'JobError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
