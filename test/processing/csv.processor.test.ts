import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { PermanentProcessingError, detectCsvDialect, processCsv } from '../../src/processing/index.ts';
import { collect, signal, streamOf } from './fixtures.ts';

describe('processCsv', () => {
  it('reads a header and data rows, with quoted delimiters, quotes and line breaks', async () => {
    const csv = 'name,age,note\nAnn,31,"likes ""tea"", cake"\nBob,42,"two\nlines"\n';
    const { rows, summary } = await collect(processCsv(streamOf(csv), { signal: signal() }));
    expect(rows).toEqual([
      { row: 1, data: { name: 'Ann', age: '31', note: 'likes "tea", cake' } },
      { row: 2, data: { name: 'Bob', age: '42', note: 'two\nlines' } },
    ]);
    expect(summary).toEqual({
      rows: 2,
      problemCount: 0,
      rejectedRows: 0,
      problems: [],
      columns: ['name', 'age', 'note'],
      encoding: 'utf-8',
      dialect: { delimiter: ',', quote: '"' },
    });
  });

  it.each([
    [';', 'a;b;c\n1;2,5;3\n4;5;6\n', '2,5'],
    ['\t', 'a\tb\tc\n1\t2,5\t3\n4\t5\t6\n', '2,5'],
    ['|', 'a|b|c\n1|2,5|3\n4|5|6\n', '2,5'],
    [',', 'a,b,c\n1,"2;5",3\n4,5,6\n', '2;5'],
  ])('detects the %j delimiter', async (delimiter, csv, second) => {
    expect(detectCsvDialect(csv).delimiter).toBe(delimiter);
    const { rows } = await collect(processCsv(streamOf(csv), { signal: signal() }));
    expect(rows[0]).toEqual({ row: 1, data: { a: '1', b: second, c: '3' } });
    expect(rows).toHaveLength(2);
  });

  it('detects single-quoted fields', async () => {
    const csv = "id,name\n1,'Smith, Ann'\n2,'Doe, Bob'\n";
    expect(detectCsvDialect(csv).quote).toBe("'");
    const { rows } = await collect(processCsv(streamOf(csv), { signal: signal() }));
    expect(rows.map((row) => row.data.name)).toEqual(['Smith, Ann', 'Doe, Bob']);
  });

  it('strips a UTF-8 byte order mark and keeps multi-byte characters split across chunks', async () => {
    const csv = '\uFEFFville;pays\nZürich;Schweiz\n東京;日本\n';
    const { rows, summary } = await collect(processCsv(streamOf(csv, 3), { signal: signal() }));
    expect(summary.columns).toEqual(['ville', 'pays']);
    expect(rows.map((row) => row.data)).toEqual([
      { ville: 'Zürich', pays: 'Schweiz' },
      { ville: '東京', pays: '日本' },
    ]);
  });

  it('keeps good rows and reports rows with the wrong column count by data row number', async () => {
    const csv = 'a,b\n1,2\n3\n\n4,5,6\n7,8\n';
    const { rows, summary } = await collect(processCsv(streamOf(csv), { signal: signal() }));
    expect(rows).toEqual([
      { row: 1, data: { a: '1', b: '2' } },
      { row: 4, data: { a: '7', b: '8' } },
    ]);
    expect(summary.problemCount).toBe(2);
    expect(summary.problems).toEqual([
      { row: 2, message: 'Expected 2 fields as in the header, found 1.', code: 'malformed_row' },
      { row: 3, message: 'Expected 2 fields as in the header, found 3.', code: 'malformed_row' },
    ]);
  });

  it('keeps the first 100 problems and counts them all', async () => {
    const csv = 'a,b\n' + Array.from({ length: 250 }, (_, index) => (index % 2 === 0 ? 'bad' : 'x,y')).join('\n');
    const { rows, summary } = await collect(processCsv(streamOf(csv, 4096), { signal: signal() }));
    expect(rows).toHaveLength(125);
    expect(summary.problemCount).toBe(125);
    expect(summary.problems).toHaveLength(100);
    expect(summary.problems[99]!.row).toBe(199);
  });

  it('numbers rows the same way on every run', async () => {
    const csv = 'a,b\n1,2\nbroken\n3,4\n';
    const first = await collect(processCsv(streamOf(csv), { signal: signal() }));
    const second = await collect(processCsv(streamOf(csv, 1), { signal: signal() }));
    expect(second).toEqual(first);
  });

  it.each([1, 2, 3, 5, 4096])(
    'parses CRLF, quoted CRLF, doubled quotes and empty fields the same in chunks of %i',
    async (size) => {
      const csv = 'a,b,c\r\n"x ""1""","line\r\nbreak",\r\n\r\n,,\r\n"",2,"3"';
      const { rows, summary } = await collect(processCsv(streamOf(csv, size), { signal: signal() }));
      expect(summary.problemCount).toBe(0);
      expect(rows).toEqual([
        { row: 1, data: { a: 'x "1"', b: 'line\r\nbreak', c: '' } },
        { row: 2, data: { a: '', b: '', c: '' } },
        { row: 3, data: { a: '', b: '2', c: '3' } },
      ]);
    },
  );

  it('reports text after a closing quote and a quote left open at the end as row problems', async () => {
    const csv = 'a,b\n"x"y,1\n2,3\n4,"never closed\n5,6\n';
    const { rows, summary } = await collect(processCsv(streamOf(csv), { signal: signal() }));
    expect(rows).toEqual([{ row: 2, data: { a: '2', b: '3' } }]);
    expect(summary.problems).toEqual([
      { row: 1, message: 'A closing quote is followed by other characters.', code: 'malformed_row' },
      { row: 3, message: 'A quoted field is never closed.', code: 'malformed_row' },
    ]);
  });

  it('keeps a quote inside an unquoted field as it is', async () => {
    const { rows } = await collect(processCsv(streamOf('a,b\n5" disk,ok\n'), { signal: signal() }));
    expect(rows).toEqual([{ row: 1, data: { a: '5" disk', b: 'ok' } }]);
  });

  it('names blank and repeated headers so no value is lost', async () => {
    const { summary } = await collect(processCsv(streamOf('id,,id\n1,2,3\n'), { signal: signal() }));
    expect(summary.columns).toEqual(['id', 'column_2', 'id_2']);
  });

  it('keeps a column named __proto__ as an ordinary field', async () => {
    const { rows } = await collect(processCsv(streamOf('__proto__,b\n{"x":1},2\n'), { signal: signal() }));
    const data = rows[0]!.data;
    expect(Object.keys(data)).toEqual(['__proto__', 'b']);
    expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
    expect(JSON.stringify(data)).toBe('{"__proto__":"{\\"x\\":1}","b":"2"}');
  });

  it('refuses a file with more rows than the limit', async () => {
    const csv = 'n\n' + Array.from({ length: 30 }, (_, index) => String(index)).join('\n');
    await expect(collect(processCsv(streamOf(csv), { signal: signal(), limits: { maxRows: 20 } }))).rejects.toMatchObject({
      code: 'too_many_rows',
    });
  });

  it('yields batches of the configured size', async () => {
    const csv = 'n\n' + Array.from({ length: 25 }, (_, index) => String(index)).join('\n');
    const sizes: number[] = [];
    for await (const batch of processCsv(streamOf(csv), { signal: signal(), limits: { batchSize: 10 } }))
      sizes.push(batch.length);
    expect(sizes).toEqual([10, 10, 5]);
  });

  it('fails a file without a header as bad data', async () => {
    await expect(collect(processCsv(streamOf(''), { signal: signal() }))).rejects.toMatchObject({ code: 'malformed_file' });
  });

  it('reads a UTF-16 file with a BOM, a character pair cut by every odd chunk boundary, and releases the input stream', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`a,b\n${'1,é\n'.repeat(20_000)}`, 'utf16le')]);
    const input = streamOf(utf16, 1023);
    const { rows, summary } = await collect(processCsv(input, { signal: signal() }));
    expect(rows).toHaveLength(20_000);
    expect(rows.every((row) => row.data.a === '1' && row.data.b === 'é')).toBe(true);
    expect(summary.encoding).toBe('utf-16le');
    expect(input.destroyed).toBe(true);
  });

  it('refuses an encoding it does not know', async () => {
    const input = streamOf('a,b\n1,2\n');
    await expect(collect(processCsv(input, { signal: signal(), encoding: 'klingon' }))).rejects.toMatchObject({
      code: 'encoding_unsupported',
    });
    expect(input.destroyed).toBe(true);
  });

  it('stops at a 100 MB field with a clear permanent error instead of running out of memory', async () => {
    let produced = 0;
    const hostile = Readable.from(
      (function* () {
        yield Buffer.from('id,text\n1,"');
        const mebibyte = Buffer.alloc(1024 * 1024, 0x78);
        for (let index = 0; index < 100; index += 1) {
          produced += mebibyte.length;
          yield mebibyte;
        }
        yield Buffer.from('"\n');
      })(),
    );
    const error = await collect(processCsv(hostile, { signal: signal(), limits: { maxRecordBytes: 4 * 1024 * 1024 } })).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(PermanentProcessingError);
    expect(error).toMatchObject({ code: 'record_too_large', retryable: false });
    expect((error as Error).message).toMatch(/larger than the limit of 4194304/);
    expect(produced).toBeLessThan(16 * 1024 * 1024);
  });

  it('stops when the signal aborts and does not call it a data error', async () => {
    const controller = new AbortController();
    const csv = 'n\n' + Array.from({ length: 5000 }, (_, index) => String(index)).join('\n');
    const stream = processCsv(streamOf(csv, 64), { signal: controller.signal, limits: { batchSize: 100 } });
    let batches = 0;
    const error = await (async () => {
      for await (const _batch of stream) {
        batches += 1;
        if (batches === 2) controller.abort(new Error('cancelled by user'));
      }
    })().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentProcessingError);
    expect(batches).toBe(2);
  });

  it('reports progress in bytes read', async () => {
    const csv = 'n\n' + Array.from({ length: 100 }, (_, index) => String(index)).join('\n');
    const progress: { current: number; total?: number }[] = [];
    await collect(
      processCsv(streamOf(csv, 50), {
        signal: signal(),
        totalBytes: csv.length,
        limits: { batchSize: 30 },
        onProgress: (update) => progress.push(update),
      }),
    );
    expect(progress.length).toBeGreaterThanOrEqual(4);
    expect(progress.at(-1)).toMatchObject({ current: csv.length, total: csv.length });
  });
});
