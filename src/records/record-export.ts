import { Readable } from 'node:stream';

export type ExportFormat = 'csv' | 'ndjson';

// A cell a spreadsheet would read as a formula (or that a formula-aware import could run).
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: quoted when needed (RFC 4180), and with a leading `'` when the text would start
 * a spreadsheet formula, so an export opened in Excel or Sheets never runs cell content.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

type RecordBatches = AsyncIterable<{ row: number; data: Record<string, unknown> }[]>;

/**
 * Streams records as CSV or NDJSON from batches fetched on demand: one batch in memory at a
 * time, and the next fetched only when the client has taken the previous one.
 */
export function exportRecords(batches: RecordBatches, format: ExportFormat, knownColumns: readonly string[]): Readable {
  return Readable.from(format === 'csv' ? csvLines(batches, knownColumns) : ndjsonLines(batches));
}

async function* ndjsonLines(batches: RecordBatches): AsyncGenerator<string> {
  for await (const batch of batches) {
    yield batch.map((record) => `${JSON.stringify({ row: record.row, ...record.data })}\n`).join('');
  }
}

/** Columns are the file's own (from processing), or else those of the first record. */
async function* csvLines(batches: RecordBatches, knownColumns: readonly string[]): AsyncGenerator<string> {
  const headerLine = (columns: readonly string[]) => `${['row', ...columns].map(csvCell).join(',')}\r\n`;
  let columns: readonly string[] | undefined = knownColumns.length > 0 ? knownColumns : undefined;
  if (columns) yield headerLine(columns);
  for await (const batch of batches) {
    if (!columns) {
      columns = Object.keys(batch[0]?.data ?? {});
      yield headerLine(columns);
    }
    let text = '';
    for (const record of batch) {
      // Own fields only: a row without `constructor` has no value there, not Object's.
      text += `${[record.row, ...columns.map((column) => (Object.hasOwn(record.data, column) ? record.data[column] : undefined))].map(csvCell).join(',')}\r\n`;
    }
    yield text;
  }
  if (!columns) yield headerLine([]);
}
