import { ERRORS } from '../errors/catalog.ts';
import { SHEET_ROW_SPAN } from '../processing/index.ts';

/** Stored rows of one sheet, both ends included. */
export interface RowRange {
  first: number;
  last: number;
}

export interface SheetPlace {
  sheet: string;
  /** The row's number within its sheet (1-based over the data rows). */
  sheet_row: number;
}

/**
 * Where a workbook's records sit: sheet k's data row r is stored as row k × SHEET_ROW_SPAN + r
 * (see tabular-stream.ts), and the file's metadata lists the sheets with their positions. So a
 * record's sheet is derived from its row number, and a sheet is a range of rows: nothing about
 * sheets is stored per record.
 */
export class SheetLayout {
  private readonly byIndex = new Map<number, string>();
  private readonly byName = new Map<string, number>();

  constructor(metadata: Record<string, unknown> | null | undefined) {
    const sheets = metadata?.sheets;
    if (!Array.isArray(sheets)) return;
    for (const sheet of sheets as unknown[]) {
      if (typeof sheet !== 'object' || sheet === null) continue;
      const { name, index } = sheet as { name?: unknown; index?: unknown };
      if (typeof name !== 'string' || typeof index !== 'number' || !Number.isInteger(index)) continue;
      this.byIndex.set(index, name);
      this.byName.set(name, index);
    }
  }

  /** Whether the file is a workbook (its records carry a sheet). */
  get hasSheets(): boolean {
    return this.byIndex.size > 0;
  }

  /** The sheet a stored row belongs to, for a workbook; undefined otherwise. */
  place(row: number): SheetPlace | undefined {
    if (!this.hasSheets) return undefined;
    const sheet = this.byIndex.get(Math.floor(row / SHEET_ROW_SPAN));
    return sheet === undefined ? undefined : { sheet, sheet_row: row % SHEET_ROW_SPAN };
  }

  /** The stored rows of the sheet named `name`; a name the file does not have is the caller's mistake. */
  range(name: string): RowRange {
    const index = this.byName.get(name);
    if (index === undefined) {
      throw ERRORS.badRequest(
        this.hasSheets ? `The workbook has no sheet named ${JSON.stringify(name)}.` : 'Only workbook (XLSX) records have sheets.',
      );
    }
    return { first: index * SHEET_ROW_SPAN, last: (index + 1) * SHEET_ROW_SPAN - 1 };
  }

  /** A record with its sheet and row within it, for a workbook. */
  withPlace<T extends { row: number }>(record: T): T & Partial<SheetPlace> {
    const place = this.place(record.row);
    return place ? { ...record, ...place } : record;
  }
}
