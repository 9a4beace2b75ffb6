import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { processJson, processNdjson } from '../../src/processing/index.ts';
import { collect, signal, streamOf } from './fixtures.ts';

describe('processJson', () => {
  it('streams an array of objects with nested values, escapes and brackets inside strings', async () => {
    const json = '\uFEFF [ {"a": 1, "s": "x]}\\"{["}, {"a": 2, "nested": {"list": [1, {"deep": null}]}} ] \n';
    const { rows, summary } = await collect(processJson(streamOf(json, 3), { signal: signal() }));
    expect(rows).toEqual([
      { row: 1, data: { a: 1, s: 'x]}"{[' } },
      { row: 2, data: { a: 2, nested: { list: [1, { deep: null }] } } },
    ]);
    expect(summary).toEqual({ rows: 2, problemCount: 0, rejectedRows: 0, problems: [], columns: ['a', 's', 'nested'] });
  });

  it('reports elements that are not objects as row problems and keeps the objects', async () => {
    const json = '[{"a":1}, 42, "text", [1,2], null, true, {"a": 2,}, {"a":3}]';
    const { rows, summary } = await collect(processJson(streamOf(json), { signal: signal() }));
    expect(rows.map((row) => row.row)).toEqual([1, 8]);
    expect(summary.problems.map((problem) => [problem.row, problem.message.split(':')[0]])).toEqual([
      [2, 'Expected a JSON object, found a number.'],
      [3, 'Expected a JSON object, found a string.'],
      [4, 'Expected a JSON object, found an array.'],
      [5, 'Expected a JSON object, found null.'],
      [6, 'Expected a JSON object, found a boolean.'],
      [7, 'Invalid JSON'],
    ]);
  });

  it.each([1, 2, 3, 4, 5, 7, 64])('finds string ends after escaped quotes and backslashes in chunks of %i', async (size) => {
    const values = ['plain', 'quote " inside', 'ends with backslash \\', '\\"', '\\\\', 'x\\\\"y', '"', '', '}]"[{,'];
    const objects = values.map((text, index) => ({ index, text, [text]: text }));
    const json = JSON.stringify(objects);
    const { rows, summary } = await collect(processJson(streamOf(json, size), { signal: signal() }));
    expect(summary.problemCount).toBe(0);
    expect(rows.map((row) => row.data)).toEqual(objects);
  });

  it('accepts an empty array', async () => {
    const { rows, summary } = await collect(processJson(streamOf('[]'), { signal: signal() }));
    expect(rows).toEqual([]);
    expect(summary.rows).toBe(0);
  });

  it.each([
    ['a single object', '{"a":1}'],
    ['a truncated array', '[{"a":1}'],
    ['a trailing comma', '[{"a":1},]'],
    ['a missing comma', '[{"a":1} {"a":2}]'],
    ['content after the array', '[{"a":1}] x'],
    ['an empty file', ''],
  ])('fails %s as bad data', async (_name, json) => {
    await expect(collect(processJson(streamOf(json), { signal: signal() }))).rejects.toMatchObject({
      name: 'PermanentProcessingError',
      code: 'malformed_file',
    });
  });

  it('refuses deeply nested JSON before parsing it', async () => {
    const depth = 100_000;
    const json = '[{"a":' + '['.repeat(depth) + ']'.repeat(depth) + '}]';
    await expect(collect(processJson(streamOf(json, 65536), { signal: signal() }))).rejects.toMatchObject({
      code: 'nesting_too_deep',
    });
  });

  it('refuses an element larger than the record limit', async () => {
    const json = `[{"a":"${'x'.repeat(5000)}"}]`;
    await expect(
      collect(processJson(streamOf(json, 100), { signal: signal(), limits: { maxRecordBytes: 1000 } })),
    ).rejects.toMatchObject({ code: 'record_too_large' });
  });

  it('numbers rows the same way whatever the chunking', async () => {
    const json = JSON.stringify(Array.from({ length: 50 }, (_, index) => (index % 7 === 0 ? index : { index })));
    const whole = await collect(processJson(Readable.from([Buffer.from(json)]), { signal: signal() }));
    const byteByByte = await collect(processJson(streamOf(json, 1), { signal: signal() }));
    expect(byteByByte).toEqual(whole);
    expect(whole.summary.problemCount).toBe(8);
  });
});

describe('processNdjson', () => {
  it('reads one object per line, skipping blank lines and accepting CRLF and a BOM', async () => {
    const ndjson = '\uFEFF{"a":1}\r\n\n{"a":2,"b":{"c":[1]}}\n{"a":3}';
    const { rows, summary } = await collect(processNdjson(streamOf(ndjson, 4), { signal: signal() }));
    expect(rows).toEqual([
      { row: 1, data: { a: 1 } },
      { row: 2, data: { a: 2, b: { c: [1] } } },
      { row: 3, data: { a: 3 } },
    ]);
    expect(summary.columns).toEqual(['a', 'b']);
  });

  it('reports invalid lines and non-objects as row problems and keeps the good rows', async () => {
    const ndjson = '{"a":1}\nnot json\n[1,2]\n"text"\n{"a":2}\n';
    const { rows, summary } = await collect(processNdjson(streamOf(ndjson), { signal: signal() }));
    expect(rows.map((row) => row.row)).toEqual([1, 5]);
    expect(summary.problemCount).toBe(3);
    expect(summary.problems[0]).toMatchObject({ row: 2, message: expect.stringMatching(/^Invalid JSON/) });
    expect(summary.problems[1]).toEqual({ row: 3, message: 'Expected a JSON object, found an array.' });
  });

  it('refuses a deeply nested line', async () => {
    const ndjson = '{"a":1}\n{"a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}\n';
    await expect(collect(processNdjson(streamOf(ndjson, 512), { signal: signal() }))).rejects.toMatchObject({
      code: 'nesting_too_deep',
    });
  });

  it('refuses a line longer than the record limit without buffering the rest', async () => {
    const ndjson = `{"a":"${'x'.repeat(10_000)}"}\n`;
    await expect(
      collect(processNdjson(streamOf(ndjson, 64), { signal: signal(), limits: { maxRecordBytes: 1024 } })),
    ).rejects.toMatchObject({ code: 'record_too_large' });
  });
});
