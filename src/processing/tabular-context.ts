import type { ColumnProfile } from './column-inference.ts';
import type { ProcessingLimits } from './processing-options.ts';

/** One data row: `row` is 1-based over the data rows and stable across re-runs of the same file. */
export interface RowRecord {
  row: number;
  data: Record<string, unknown>;
}

export interface RowProblem {
  row: number;
  message: string;
  /** The column the problem is about, when it is about one cell. */
  column?: string;
  /** XLSX: the sheet of the row (`row` then counts within the sheet). */
  sheet?: string;
  /** A stable code: `malformed_row`, `type_mismatch`, or an import schema rule. */
  code?: string;
}

/**
 * Rows of a workbook's sheets share one numbering: sheet k's data row r is stored as row
 * k × SHEET_ROW_SPAN + r. Excel's sheets end at row 1,048,576, so rows never collide, the
 * stored order is sheet order then row order, and the int32 row key holds 2,048 sheets.
 */
export const SHEET_ROW_SPAN = 1_048_576;

export interface SheetSummary {
  name: string;
  /** Position in the workbook (0-based). */
  index: number;
  rows: number;
  columns: string[];
  columnTypes?: ColumnProfile[];
}

/** A row left out of the records, with what was wrong and its cells as the file held them. */
export interface RejectedRow {
  row: number;
  sheet?: string;
  /** The file's header for `cells` (the sheet's, for a workbook). */
  columns: readonly string[];
  /** The row's cells as read, in header order; absent when the row could not be split into cells. */
  cells?: readonly unknown[];
  problems: { column?: string; code: string; message: string }[];
}

export interface TabularSummary {
  /** Good rows yielded. */
  rows: number;
  /** Every problem found, including those past `maxProblemsKept`. */
  problemCount: number;
  /** Rows left out of the records (parse errors, import schema rules). */
  rejectedRows: number;
  /** The first `maxProblemsKept` problems, in row order. */
  problems: RowProblem[];
  /** Header names (CSV, XLSX) or the keys seen, in order of appearance (JSON, NDJSON). */
  columns: string[];
  /** XLSX only: the last sheet that was read. */
  sheet?: string;
  /** XLSX only: the sheets read, in workbook order, with their data rows (stored as `index × SHEET_ROW_SPAN + row`). */
  sheets?: SheetSummary[];
  /** CSV only: the text encoding the file was read in. */
  encoding?: string;
  /** CSV only: the delimiter and quote the file was read with. */
  dialect?: { delimiter: string; quote: string };
  /** With type inference: each column's type, nullability, examples and flags. */
  columnTypes?: ColumnProfile[];
}

/**
 * The result of a tabular processor: iterate it once to receive batches of rows, then read
 * `summary()`. Rows are produced while the file streams, so nothing holds the whole file.
 */
export interface TabularStream extends AsyncIterable<RowRecord[]> {
  summary(): TabularSummary;
}

/** Most distinct keys a JSON source reports as columns; more would only bloat the job result. */
const MAX_REPORTED_COLUMNS = 1000;

/** State a format reader shares with the batching loop. */
export class TabularContext {
  bytesRead = 0;
  columns: string[] = [];
  sheet: string | undefined;
  encoding: string | undefined;
  dialect: { delimiter: string; quote: string } | undefined;
  columnTypes: ColumnProfile[] | undefined;
  readonly sheets: SheetSummary[] = [];
  private readonly columnSet = new Set<string>();
  private readonly kept: RowProblem[] = [];
  private problemTotal = 0;
  rejectedRows = 0;

  constructor(
    readonly limits: ProcessingLimits,
    private readonly onReject?: (rejected: RejectedRow) => void,
  ) {}

  /** The column types of a header once its rows are all typed (per sheet for a workbook). */
  noteColumnTypes(sheet: string | undefined, profiles: ColumnProfile[]): void {
    if (sheet === undefined || this.columnTypes === undefined) this.columnTypes = profiles;
    this.columnTypesBySheet.set(sheet, profiles);
  }
  readonly columnTypesBySheet = new Map<string | undefined, ColumnProfile[]>();

  /** A row that is left out: its problems are counted and it goes to the correction file. */
  reject(row: number, cells: readonly unknown[] | undefined, problems: RejectedRow['problems']): void {
    this.rejectedRows += 1;
    for (const problem of problems) this.problem(row, problem.message, problem);
    this.onReject?.({
      row: this.sheet === undefined ? row : row % SHEET_ROW_SPAN,
      ...(this.sheet === undefined ? {} : { sheet: this.sheet }),
      columns: this.columns,
      ...(cells === undefined ? {} : { cells }),
      problems,
    });
  }

  problem(row: number, message: string, about: { column?: string; code?: string } = {}): void {
    this.problemTotal += 1;
    if (this.kept.length < this.limits.maxProblemsKept) {
      this.kept.push({
        row: this.sheet === undefined ? row : row % SHEET_ROW_SPAN,
        ...(this.sheet === undefined ? {} : { sheet: this.sheet }),
        message,
        ...(about.column === undefined ? {} : { column: about.column }),
        ...(about.code === undefined ? {} : { code: about.code }),
      });
    }
  }

  /** JSON-like sources have no header: the columns are the keys seen so far. */
  noteKeys(data: Record<string, unknown>): void {
    if (this.columnSet.size >= MAX_REPORTED_COLUMNS) return;
    for (const key in data) {
      if (!this.columnSet.has(key)) {
        this.columnSet.add(key);
        this.columns.push(key);
        if (this.columnSet.size >= MAX_REPORTED_COLUMNS) return;
      }
    }
  }

  get problemCount(): number {
    return this.problemTotal;
  }

  get problems(): RowProblem[] {
    return [...this.kept];
  }
}
