import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type CsvError, type Options as CsvParseOptions } from 'csv-parse';
import { detectCsvDialect, CSV_DELIMITERS } from './csv-dialect.ts';
import { peekHead, readChunks } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import { createTabularStream, type RowRecord, type TabularContext, type TabularStream } from './tabular-stream.ts';

/** Enough lines to judge the delimiter on, small enough to hold without thought. */
const SNIFF_BYTES = 64 * 1024;


/**
 * CSV → rows. The first record is the header; every later record becomes `{header: value}`.
 * A record whose field count differs from the header's, or whose quoting is broken, is a row
 * problem and the rest of the file goes on; a record over `maxRecordBytes` fails the file,
 * since a field that large is not data anyone meant to import.
 */
export function processCsv(input: Readable, options: TabularOptions): TabularStream {
  const limits = resolveLimits(options.limits);
  if (options.delimiter !== undefined && !(CSV_DELIMITERS as readonly string[]).includes(options.delimiter)) {
    throw new TypeError(`Unsupported CSV delimiter ${JSON.stringify(options.delimiter)}.`);
  }
  return createTabularStream('CSV file', { ...options, limits }, (context) => readCsv(input, options, context));
}

async function* readCsv(input: Readable, options: TabularOptions, context: TabularContext): AsyncGenerator<RowRecord> {
  const { limits } = context;
  const chunks = readChunks(input, options.signal, (bytes) => (context.bytesRead = bytes));
  const { head, all } = await peekHead(chunks, SNIFF_BYTES);
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    throw new PermanentProcessingError('encoding_unsupported', 'The CSV file is UTF-16; only UTF-8 is supported.');
  }
  const dialect = detectCsvDialect(head.toString('utf8').replace(/^\uFEFF/, ''));
  const delimiter = options.delimiter ?? dialect.delimiter;

  let headerLength = -1;
  let columns: string[] = [];
  let row = 0;
  const parserOptions: CsvParseOptions<RowRecord, string[]> = {
    bom: true,
    delimiter,
    quote: dialect.quote,
    escape: dialect.quote,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: limits.maxRecordBytes,
    on_skip: (error: CsvError | undefined) => {
      if (error?.code === 'CSV_MAX_RECORD_SIZE') {
        throw new PermanentProcessingError(
          'record_too_large',
          `A CSV record near data row ${row + 1} is larger than the limit of ${limits.maxRecordBytes} bytes.`,
        );
      }
      if (headerLength < 0) {
        throw new PermanentProcessingError('malformed_file', `The CSV header cannot be parsed: ${error?.message ?? 'invalid'}.`);
      }
      row += 1;
      context.problem(row, describeCsvError(error));
      return undefined;
    },
    // Problems are recorded here, in file order, rather than where rows are consumed: the
    // parser runs a little ahead of the consumer and skipped records are only seen here.
    on_record: (fields: string[]): RowRecord | null => {
      if (headerLength < 0) {
        headerLength = fields.length;
        columns = headerNames(fields);
        context.columns = columns;
        return null;
      }
      row += 1;
      if (fields.length !== headerLength) {
        context.problem(row, `Expected ${headerLength} fields as in the header, found ${fields.length}.`);
        return null;
      }
      const data: Record<string, unknown> = {};
      for (let index = 0; index < headerLength; index += 1) data[columns[index]!] = fields[index];
      return { row, data };
    },
  };
  // The typings tie on_record's result to the callback overloads; the stream API is untyped.
  const parser = parse(parserOptions as unknown as CsvParseOptions);

  const feeding = pipeline(Readable.from(all), parser).catch(() => {
    // The parser carries the same error to the loop below, which is where it is reported.
  });
  try {
    yield* parser as AsyncIterable<RowRecord>;
  } catch (error) {
    throw unwrapCsvError(error);
  } finally {
    parser.destroy();
    await feeding;
  }
  if (headerLength < 0) throw new PermanentProcessingError('malformed_file', 'The CSV file has no header row.');
}

/** Blank names get a positional one and repeated names a suffix, so no value is lost. */
export function headerNames(raw: string[]): string[] {
  const seen = new Map<string, number>();
  return raw.map((name, index) => {
    const base = name.trim() === '' ? `column_${index + 1}` : name.trim();
    const count = (seen.get(base) ?? 0) + 1;
    seen.set(base, count);
    return count === 1 ? base : `${base}_${count}`;
  });
}

function describeCsvError(error: CsvError | undefined): string {
  switch (error?.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'A quoted field is never closed.';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'A closing quote is followed by other characters.';
    default:
      return error?.message ?? 'The record cannot be parsed.';
  }
}

/** csv-parse reports our own thrown error as is; anything else it raises is about the data. */
function unwrapCsvError(error: unknown): unknown {
  if (error instanceof PermanentProcessingError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('CSV_')) {
    return new PermanentProcessingError('malformed_file', `The CSV file cannot be parsed: ${(error as Error).message}`, { cause: error });
  }
  return error;
}
