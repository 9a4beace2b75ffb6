import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { processTabular } from '../../src/processing/index.ts';
import { generatedRows, signal } from './fixtures.ts';

const ROWS = 200_000;

const sources = {
  'text/csv': () =>
    generatedRows({
      rows: ROWS,
      prefix: 'id,name,email,amount,note\n',
      row: (index) => `${index},user ${index},user${index}@example.com,${index * 3},"some text, quoted"\n`,
      suffix: '',
    }),
  'application/x-ndjson': () =>
    generatedRows({
      rows: ROWS,
      prefix: '',
      row: (index) => `${JSON.stringify({ id: index, name: `user ${index}`, email: `user${index}@example.com` })}\n`,
      suffix: '',
    }),
  'application/json': () =>
    generatedRows({
      rows: ROWS,
      prefix: '[',
      row: (index) => `${index > 1 ? ',' : ''}${JSON.stringify({ id: index, name: `user ${index}`, nested: { n: index } })}`,
      suffix: ']',
    }),
};

/*
 * The proof of streaming is deterministic rather than a heap measurement: at every batch, the
 * bytes the source has handed out may run ahead of the end of the last row received by at most
 * a small window, so the processor cannot be holding the file (10+ MB here) in memory.
 */
describe('tabular processors stream their input', () => {
  it.each(Object.keys(sources) as (keyof typeof sources)[])(
    '%s: reads only a bounded window ahead of the rows it has yielded',
    async (type) => {
      const source = sources[type]();
      let rows = 0;
      let lookahead = 0;
      for await (const batch of processTabular(type, source.stream, { signal: signal() })) {
        rows += batch.length;
        expect(batch.at(-1)!.row).toBe(rows);
        lookahead = Math.max(lookahead, source.produced() - source.rowEnd(rows));
      }
      expect(rows).toBe(ROWS);
      expect(source.produced()).toBeGreaterThan(10 * 1024 * 1024);
      expect(lookahead).toBeLessThan(2 * 1024 * 1024);
    },
  );

  it('refuses a content type that is not tabular', () => {
    expect(() => processTabular('image/png', Readable.from([]), { signal: signal() })).toThrowError(/not a tabular content type/);
  });
});
