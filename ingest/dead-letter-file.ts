/**
 * Ingest's dead-letter place: records the broker refused on their own (see reaction-buffer.ts), one JSON line
 * each in `<dir>/dead-letters.jsonl`. Bounded like every buffer: when the file would pass `maxBytes` it is
 * rotated once to `dead-letters.1.jsonl`; when that one is still there (nobody moved it away), new lines are not
 * written — nothing already written is overwritten — and `write` says so, so the caller still counts and logs
 * the record. Dead letters are rare, so writes are synchronous: a line is on disk before its waiter is answered.
 */
import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

/** One line of the file. */
export interface DeadLetterEntry {
  /** When it was refused, ISO 8601. */
  time: string;
  topic: string;
  /** The record's partition key (the user id). */
  key: string;
  /** The reaction as JSON (decoded from its Avro value), or null when it could not be decoded. */
  reaction: unknown;
  /** Bytes of the Avro value (registry frame included). */
  size: number;
  error: { name: string; type?: string; message: string };
}

/** Outcome of {@link DeadLetterFile.write}. */
export type DeadLetterWrite =
  | { written: true; file: string }
  | { written: false; reason: 'full' | 'io-error'; detail: string };

export interface DeadLetterFile {
  /** The file lines are appended to. */
  readonly file: string;
  write(entry: DeadLetterEntry): DeadLetterWrite;
}

/** Options of {@link createDeadLetterFile}. */
export interface DeadLetterFileOptions {
  dir: string;
  /** Most bytes of each of the two files (current and rotated). @default 67108864 */
  maxBytes?: number;
}

export const DEAD_LETTER_FILE = 'dead-letters.jsonl';
export const DEAD_LETTER_ROTATED = 'dead-letters.1.jsonl';

export function createDeadLetterFile(options: DeadLetterFileOptions): DeadLetterFile {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const file = path.join(options.dir, DEAD_LETTER_FILE);
  const rotated = path.join(options.dir, DEAD_LETTER_ROTATED);
  /** Bytes of the current file; read from disk once, so a restart continues where the last run stopped. */
  let size: number | undefined;

  function currentSize(): number {
    if (size === undefined) {
      mkdirSync(options.dir, { recursive: true });
      size = existsSync(file) ? statSync(file).size : 0;
    }
    return size;
  }

  return {
    file,
    write(entry) {
      const line = `${JSON.stringify(entry)}\n`;
      const bytes = Buffer.byteLength(line);
      try {
        if (bytes > maxBytes) {
          return { written: false, reason: 'full', detail: `one line of ${bytes} bytes exceeds ${maxBytes}` };
        }
        if (currentSize() + bytes > maxBytes) {
          if (existsSync(rotated)) {
            return {
              written: false,
              reason: 'full',
              detail: `${file} and ${rotated} are full (${maxBytes} bytes each); move them away to keep new dead letters`,
            };
          }
          renameSync(file, rotated);
          size = 0;
        }
        appendFileSync(file, line);
        size = currentSize() + bytes;
        return { written: true, file };
      } catch (err) {
        size = undefined;
        return { written: false, reason: 'io-error', detail: (err as Error).message };
      }
    },
  };
}
