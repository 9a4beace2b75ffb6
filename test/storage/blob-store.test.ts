import { describe, expect, it } from 'vitest';
import { parseRangeHeader, resolveByteRange, validateBlobKey } from '../../src/storage/blob-store.ts';

describe('parseRangeHeader', () => {
  it.each([
    ['bytes=0-99', { start: 0, end: 99 }],
    ['bytes=100-', { start: 100 }],
    ['bytes=-500', { suffixLength: 500 }],
    [' bytes = 5 - 9 ', { start: 5, end: 9 }],
  ])('reads %s', (header, expected) => {
    expect(parseRangeHeader(header)).toEqual(expected);
  });

  it.each([undefined, 'bytes=0-1,5-9', 'items=0-5', 'bytes=-', 'bytes=9-5', 'bytes=a-b'])(
    'ignores %s so the whole content is served',
    (header) => {
      expect(parseRangeHeader(header)).toBeUndefined();
    },
  );
});

describe('resolveByteRange', () => {
  it('refuses any range of an empty blob', () => {
    expect(() => resolveByteRange({ start: 0 }, 0)).toThrow(expect.objectContaining({ code: 'range_not_satisfiable' }));
    expect(() => resolveByteRange({ suffixLength: 5 }, 0)).toThrow(expect.objectContaining({ code: 'range_not_satisfiable' }));
  });
});

describe('validateBlobKey', () => {
  it.each(['files/0f1e/2d3c.csv', 'a', 'A_b-c.d/e'])('accepts %s', (key) => {
    expect(() => validateBlobKey(key)).not.toThrow();
  });

  it.each(['', '..', 'a/..', './a', 'a/', '/a', 'a b', 'a%2Fb', 'é', `${'a'.repeat(256)}`, `${'a/'.repeat(600)}a`])(
    'refuses %s',
    (key) => {
      expect(() => validateBlobKey(key)).toThrow(expect.objectContaining({ code: 'blob_key_invalid', status: 400 }));
    },
  );
});
