/**
 * Reads a JSON request body within a byte limit, strictly: `application/json` (UTF-8) only, invalid UTF-8 and
 * invalid JSON refused. Cheaper than a general body-parser middleware and runs only on the routes that need it.
 */
import type { IncomingMessage } from 'node:http';
import { problems } from './errors.ts';

const JSON_TYPE = /^application\/json\s*(?:;\s*charset\s*=\s*(?:"utf-8"|utf-8)\s*)?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when the Content-Type is JSON in UTF-8 (the only charset JSON allows on the wire, RFC 8259). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && (contentType === 'application/json' || JSON_TYPE.test(contentType));
}

/** Reads and parses the body; rejects with an HttpProblem (415, 413 or 400). */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const contentType = req.headers['content-type'];
  if (!isJsonContentType(contentType)) return Promise.reject(problems.unsupportedMediaType(contentType));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit)
    return Promise.reject(problems.payloadTooLarge(limit));
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.off('data', onData);
        // Stop buffering; the rest of the body is discarded by node once the response is sent.
        req.resume();
        reject(problems.payloadTooLarge(limit));
        return;
      }
      if (first === undefined) {
        first = chunk;
      } else {
        chunks ??= [first];
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.once('error', (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
    req.once('end', () => {
      if (done) return;
      done = true;
      const buf = chunks !== undefined ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0));
      let text: string;
      try {
        text = utf8.decode(buf);
      } catch {
        reject(problems.malformedJson('the body is not valid UTF-8'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(
          problems.malformedJson(size === 0 ? 'the body is empty' : (err as Error).message.slice(0, 200)),
        );
      }
    });
  });
}
