import type { Readable } from 'node:stream';
import { readChunks } from './input-stream.ts';
import { assertValueDepth, parseJsonObject } from './json-depth.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import { createTabularStream, type RowRecord, type TabularContext, type TabularStream } from './tabular-stream.ts';

const NEWLINE = 0x0a;

/**
 * NDJSON (JSON Lines) → rows: one object per non-blank line, `row` counting those lines.
 * A line that is not valid JSON, or not an object, is a row problem; a line longer than
 * `maxRecordBytes` or nested deeper than `maxJsonDepth` fails the file.
 */
export function processNdjson(input: Readable, options: TabularOptions): TabularStream {
  const limits = resolveLimits(options.limits);
  return createTabularStream('NDJSON file', { ...options, limits }, (context) => readNdjson(input, options, context));
}

async function* readNdjson(input: Readable, options: TabularOptions, context: TabularContext): AsyncGenerator<RowRecord[]> {
  const { maxRecordBytes, maxJsonDepth } = context.limits;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  let row = 0;
  let first = true;

  const line = (bytes: Buffer): RowRecord | undefined => {
    let text = bytes.toString('utf8');
    if (first) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (text.trim() === '') return undefined;
    row += 1;
    const value = parseJsonObject(text, row, context);
    if (!value) return undefined;
    assertValueDepth(value, maxJsonDepth, `NDJSON line ${row}`);
    context.noteKeys(value);
    return { row, data: value };
  };
  const tooLong = () =>
    new PermanentProcessingError(
      'record_too_large',
      `NDJSON line ${row + 1} is longer than the limit of ${maxRecordBytes} bytes.`,
    );

  for await (const chunk of readChunks(input, options.signal, (bytes) => (context.bytesRead = bytes))) {
    const records: RowRecord[] = [];
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      let bytes = chunk.subarray(start, end);
      if (pendingLength > 0) {
        if (pendingLength + bytes.length > maxRecordBytes) throw tooLong();
        bytes = Buffer.concat([...pending, bytes]);
        pending = [];
        pendingLength = 0;
      } else if (bytes.length > maxRecordBytes) throw tooLong();
      start = end + 1;
      const record = line(bytes);
      if (record) records.push(record);
    }
    if (start < chunk.length) {
      pendingLength += chunk.length - start;
      if (pendingLength > maxRecordBytes) throw tooLong();
      pending.push(chunk.subarray(start));
    }
    if (records.length > 0) yield records;
  }
  if (pendingLength > 0) {
    const record = line(Buffer.concat(pending));
    if (record) yield [record];
  }
}
