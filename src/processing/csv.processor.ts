import type { Readable } from 'node:stream';
import { detectCsvDialect, CSV_DELIMITERS } from './csv-dialect.ts';
import { CsvParser, CsvProblem, type CsvParseResult } from './csv-parser.ts';
import { peekHead, readChunks } from './input-stream.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import { createTextDecoder, detectTextEncoding, knownEncoding, Utf8Follower } from './text-encoding.ts';
import { createTabularStream, rowBuilder, type RowRecord, type TabularContext, type TabularStream } from './tabular-stream.ts';

/** Enough lines to judge the delimiter on, small enough to hold without thought. */
const SNIFF_BYTES = 64 * 1024;
const PARSE_PIECE_CHARS = 16 * 1024;

/**
 * CSV → rows. The first record is the header; every later record becomes `{header: value}`
 * with string values. A record whose field count differs from the header's, or whose quoting
 * is broken, is a row problem and the rest of the file goes on; a record over
 * `maxRecordBytes` (counted in characters) fails the file, since a field that large is not
 * data anyone meant to import. Rows are numbered over the non-blank records after the header.
 */
export function processCsv(input: Readable, options: TabularOptions): TabularStream {
  const limits = resolveLimits(options.limits);
  if (options.delimiter !== undefined && !(CSV_DELIMITERS as readonly string[]).includes(options.delimiter)) {
    throw new TypeError(`Unsupported CSV delimiter ${JSON.stringify(options.delimiter)}.`);
  }
  return createTabularStream('CSV file', { ...options, limits }, (context) => readCsv(input, options, context));
}

async function* readCsv(input: Readable, options: TabularOptions, context: TabularContext): AsyncGenerator<RowRecord[]> {
  const chunks = readChunks(input, options.signal, (bytes) => (context.bytesRead = bytes));
  try {
    yield* parseCsv(chunks, options, context);
  } finally {
    // Failing before the body is read (a UTF-16 file) must still release the blob stream.
    await chunks.return(undefined);
  }
}

async function* parseCsv(
  chunks: AsyncGenerator<Buffer>,
  options: TabularOptions,
  context: TabularContext,
): AsyncGenerator<RowRecord[]> {
  const { head, all } = await peekHead(chunks, SNIFF_BYTES);
  const encoding = resolveEncoding(head, options.encoding);
  context.encoding = encoding;
  // UTF-8 is judged on the head only: the rest is followed, see readText below.
  let follower = encoding === 'utf-8' ? new Utf8Follower() : undefined;
  const mayRedetect = options.encoding === undefined && !(head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf);
  let replacements = false;
  // The head is decoded twice (here for the dialect, then with the stream): 64 KiB, once.
  const dialect = detectCsvDialect(
    createTextDecoder(encoding)
      .write(head)
      .replace(/^\uFEFF/, ''),
  );
  const delimiter = options.delimiter ?? dialect.delimiter;
  context.dialect = { delimiter, quote: dialect.quote };
  const parser = new CsvParser({ delimiter, quote: dialect.quote, maxRecordLength: context.limits.maxRecordBytes });
  let decoder = createTextDecoder(encoding);
  /**
   * A byte that is not UTF-8 after a head that was: when everything before it was ASCII, the
   * file is re-detected as Windows-1252 from that chunk on (nothing read so far changes);
   * otherwise the file really mixes encodings, the bad bytes read as U+FFFD, and each row
   * holding one is reported (`encoding_error`) rather than stored altered in silence.
   */
  const readText = (chunk: Buffer): string => {
    if (!follower) return decoder.write(chunk);
    const seen = follower.check(chunk);
    if (seen.valid) return decoder.write(chunk);
    if (seen.switchable && mayRedetect) {
      follower = undefined;
      decoder = createTextDecoder('windows-1252');
      context.encoding = 'windows-1252';
      return decoder.write(seen.bytes);
    }
    replacements = true;
    return decoder.write(chunk);
  };

  let columns: string[] | undefined;
  let build: ReturnType<typeof rowBuilder> = () => ({});
  let row = 0;
  // Turns parser results into rows; problems are numbered in the same sequence as rows.
  function rows(results: CsvParseResult[]): RowRecord[] {
    const records: RowRecord[] = [];
    for (const result of results) {
      if (columns === undefined) {
        if (result instanceof CsvProblem) {
          throw new PermanentProcessingError('malformed_file', `The CSV header cannot be parsed: ${result.message}`);
        }
        columns = headerNames(result);
        build = rowBuilder(columns);
        context.columns = columns;
        continue;
      }
      row += 1;
      if (result instanceof CsvProblem) {
        context.reject(row, undefined, [{ code: 'malformed_row', message: result.message }]);
        continue;
      }
      const fields = result;
      if (fields.length !== columns.length) {
        const message = `Expected ${columns.length} fields as in the header, found ${fields.length}.`;
        context.reject(row, fields, [{ code: 'malformed_row', message }]);
        continue;
      }
      if (replacements && fields.some((field) => field.includes('\uFFFD'))) {
        context.problem(
          row,
          `Bytes that are not valid ${context.encoding ?? 'UTF-8'} were read as U+FFFD (�); upload with ?encoding= naming the file's encoding.`,
          {
            code: 'encoding_error',
          },
        );
      }
      records.push({ row, data: build(fields, '') });
    }
    return records;
  }

  let first = true;
  for await (const chunk of all) {
    let text = readText(chunk);
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // Fields are slices of the text they were parsed from and keep it alive; pieces under
    // V8's large-object size let the young-generation GC free them (measured: ~2× less CPU).
    for (let start = 0; start < text.length; start += PARSE_PIECE_CHARS) {
      const piece = text.length <= PARSE_PIECE_CHARS ? text : text.slice(start, start + PARSE_PIECE_CHARS);
      const records = rows(parser.push(piece));
      if (records.length > 0) yield records;
    }
  }
  if (follower?.truncated) replacements = true;
  const rest = decoder.end();
  if (rest) yield rows(parser.push(rest));
  yield rows(parser.end());
  if (columns === undefined) throw new PermanentProcessingError('malformed_file', 'The CSV file has no header row.');
}

/** The uploader's encoding when named (and known), else the one the head shows. */
function resolveEncoding(head: Buffer, declared: string | undefined): string {
  if (declared !== undefined) {
    const known = knownEncoding(declared);
    if (!known)
      throw new PermanentProcessingError('encoding_unsupported', `The encoding ${JSON.stringify(declared)} is not known.`);
    return known;
  }
  return detectTextEncoding(head, head.length < SNIFF_BYTES).encoding;
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
