import { Readable } from 'node:stream';
import { csvCell } from '../http/csv-cell.ts';
import type { SheetLayout } from './record-sheets.ts';

export type ExportFormat = 'csv' | 'ndjson';

type RecordBatches = AsyncIterable<{ row: number; data: Record<string, unknown> }[]>;

/**
 * Streams records as CSV or NDJSON from batches fetched on demand: one batch in memory at a
 * time, and the next fetched only when the client has taken the previous one. A workbook's
 * records also carry `sheet` and `sheet_row` (after `row`).
 */
export function exportRecords(
  batches: RecordBatches,
  format: ExportFormat,
  knownColumns: readonly string[],
  sheets?: SheetLayout,
): Readable {
  const placed = sheets?.hasSheets ? sheets : undefined;
  return Readable.from(format === 'csv' ? csvLines(batches, knownColumns, placed) : ndjsonLines(batches, placed));
}

async function* ndjsonLines(batches: RecordBatches, sheets: SheetLayout | undefined): AsyncGenerator<string> {
  for await (const batch of batches) {
    yield batch
      .map((record) => `${JSON.stringify({ row: record.row, ...sheets?.place(record.row), ...record.data })}\n`)
      .join('');
  }
}

/** Columns are the file's own (from processing), or else those of the first record. */
async function* csvLines(
  batches: RecordBatches,
  knownColumns: readonly string[],
  sheets: SheetLayout | undefined,
): AsyncGenerator<string> {
  const lead = sheets ? ['row', 'sheet', 'sheet_row'] : ['row'];
  const headerLine = (columns: readonly string[]) => `${[...lead, ...columns].map(csvCell).join(',')}\r\n`;
  const leadCells = (row: number) => {
    if (!sheets) return [row];
    const place = sheets.place(row);
    return [row, place?.sheet, place?.sheet_row];
  };
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
      text += `${[...leadCells(record.row), ...columns.map((column) => (Object.hasOwn(record.data, column) ? record.data[column] : undefined))].map(csvCell).join(',')}\r\n`;
    }
    yield text;
  }
  if (!columns) yield headerLine([]);
}
