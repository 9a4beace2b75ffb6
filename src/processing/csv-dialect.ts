/**
 * Guesses a CSV file's delimiter and quote character from its first bytes, the way a person
 * would: the right delimiter splits every line into the same number of fields.
 */
export const CSV_DELIMITERS = [',', ';', '\t', '|'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];
export type CsvQuote = '"' | "'";

const SAMPLE_LINES = 50;

export function detectCsvDialect(sample: string): { delimiter: CsvDelimiter; quote: CsvQuote } {
  const doubleQuotedDelimiter = detectDelimiter(sample, '"');
  const quote = detectQuote(sample, doubleQuotedDelimiter.delimiter);
  if (quote === '"') return { delimiter: doubleQuotedDelimiter.delimiter, quote };
  return { delimiter: detectDelimiter(sample, quote).delimiter, quote };
}

function detectDelimiter(sample: string, quote: CsvQuote): { delimiter: CsvDelimiter } {
  const lines = splitLines(sample, quote);
  let best: { delimiter: CsvDelimiter; consistency: number; fields: number } = { delimiter: ',', consistency: 0, fields: 0 };
  for (const delimiter of CSV_DELIMITERS) {
    const counts = lines.map((line) => countOutsideQuotes(line, delimiter, quote));
    const mode = modeOf(counts);
    if (mode === 0) continue;
    const consistency = counts.filter((count) => count === mode).length / counts.length;
    if (consistency > best.consistency || (consistency === best.consistency && mode > best.fields)) {
      best = { delimiter, consistency, fields: mode };
    }
  }
  return { delimiter: best.delimiter };
}

/** Single quotes count only when they wrap fields and double quotes never appear. */
function detectQuote(sample: string, delimiter: string): CsvQuote {
  if (sample.includes('"')) return '"';
  const escaped = delimiter === '|' ? '\\|' : delimiter;
  const wrapped = new RegExp(`(^|${escaped})'[^'\\r\\n]*'(?=${escaped}|\\r?$)`, 'gm');
  return (sample.match(wrapped)?.length ?? 0) >= 2 ? "'" : '"';
}

/** Complete lines only (the sample may end mid-line), honouring quoted line breaks. */
function splitLines(sample: string, quote: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let quoted = false;
  for (let index = 0; index < sample.length && lines.length < SAMPLE_LINES; index += 1) {
    const char = sample[index];
    if (char === quote) quoted = !quoted;
    else if (char === '\n' && !quoted) {
      const line = sample.slice(start, index).replace(/\r$/, '');
      if (line.trim() !== '') lines.push(line);
      start = index + 1;
    }
  }
  if (lines.length === 0 && sample.trim() !== '') lines.push(sample);
  return lines;
}

function countOutsideQuotes(line: string, delimiter: string, quote: string): number {
  let count = 0;
  let quoted = false;
  for (const char of line) {
    if (char === quote) quoted = !quoted;
    else if (char === delimiter && !quoted) count += 1;
  }
  return count;
}

function modeOf(values: number[]): number {
  const frequency = new Map<number, number>();
  let mode = 0;
  let best = 0;
  for (const value of values) {
    const seen = (frequency.get(value) ?? 0) + 1;
    frequency.set(value, seen);
    if (seen > best || (seen === best && value > mode)) {
      best = seen;
      mode = value;
    }
  }
  return mode;
}
