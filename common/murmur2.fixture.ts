/** Keys that exercise murmur2's tails, non-ASCII and lone surrogates, shared by the tests of its users. */
export const HASH_KEYS: readonly string[] = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  'user-0-17',
  '12345',
  'ünïcödé',
  '🔥👍',
  '\uD800',
  'x'.repeat(400),
  ...Array.from({ length: 2000 }, (_, i) => `user-${i % 7}-${i * 7919}${'é'.repeat(i % 3)}`),
];
