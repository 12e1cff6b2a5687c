import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commonProblems, HttpProblem, PROBLEM_TYPE_PREFIX } from './problem.ts';

const specs = ['../ingest/openapi.yaml', '../fanout/main-publisher/openapi.yaml'].map((file) => ({
  file,
  doc: parse(readFileSync(new URL(file, import.meta.url), 'utf8')),
}));

describe('one problem+json shape', () => {
  it.each(specs)('$file documents the shape common/problem.ts writes', ({ doc }) => {
    const problem = doc.components.schemas.Problem;
    expect(problem.required).toEqual(['type', 'title', 'status', 'detail']);
    expect(Object.keys(problem.properties).sort()).toEqual(
      ['detail', 'errors', 'retry_after', 'status', 'title', 'type'].sort(),
    );
    expect(doc.components.schemas.FieldProblem.required).toEqual(['field', 'code', 'detail']);
    const typePattern = new RegExp(problem.properties.type.pattern);
    const written = [
      commonProblems.validation('Invalid', [{ field: 'a', code: 'required', detail: 'is required' }]),
      commonProblems.malformedJson('x'),
      commonProblems.badRequest('x'),
      commonProblems.unsupportedMediaType(undefined),
      commonProblems.payloadTooLarge(10),
      commonProblems.notFound('GET', '/x'),
      commonProblems.methodNotAllowed('POST', '/x', ['GET']),
      commonProblems.notReady('x', { kafka: 'ok' }),
      commonProblems.internal(),
    ].map((p) => JSON.parse(JSON.stringify(p)));
    for (const body of written) {
      expect(body.type).toMatch(typePattern);
      expect(body.type.startsWith(PROBLEM_TYPE_PREFIX)).toBe(true);
      for (const key of problem.required) expect(body).toHaveProperty(key);
    }
  });

  it('keeps extension members from overriding the standard ones', () => {
    const p = new HttpProblem({
      status: 503,
      slug: 'not-ready',
      title: 'Not ready',
      detail: 'd',
      extensions: { type: 'about:blank', status: 200, checks: { kafka: 'down' } },
    });
    expect(p.toJSON()).toEqual({
      type: 'urn:emostream:problem:not-ready',
      title: 'Not ready',
      status: 503,
      detail: 'd',
      checks: { kafka: 'down' },
    });
  });
});
