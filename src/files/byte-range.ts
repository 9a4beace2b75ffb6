import type { ByteRange } from '../storage/blob-store.ts';

export type RangeRequest =
  | { kind: 'none' }
  | { kind: 'satisfiable'; range: ByteRange }
  | { kind: 'unsatisfiable' };

/**
 * Reads an HTTP `Range` header (RFC 9110 §14) for one byte range. Several ranges, or a header
 * that does not parse, are answered with the whole file, as the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'none' };
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return { kind: 'none' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'none' };
  if (first === '') {
    const suffixLength = Number(last);
    if (suffixLength === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'satisfiable', range: { suffixLength } };
  }
  const start = Number(first);
  if (start >= size) return { kind: 'unsatisfiable' };
  if (last === '') return { kind: 'satisfiable', range: { start } };
  const end = Number(last);
  if (end < start) return { kind: 'none' };
  return { kind: 'satisfiable', range: { start, end: Math.min(end, size - 1) } };
}
