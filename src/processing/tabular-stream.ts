import type { ProcessingLimits, ProcessingProgress } from './processing-options.ts';
import { PermanentProcessingError } from './processing-error.ts';

/** One data row: `row` is 1-based over the data rows and stable across re-runs of the same file. */
export interface RowRecord {
  row: number;
  data: Record<string, unknown>;
}

export interface RowProblem {
  row: number;
  message: string;
}

export interface TabularSummary {
  /** Good rows yielded. */
  rows: number;
  /** Every problem found, including those past `maxProblemsKept`. */
  problemCount: number;
  /** The first `maxProblemsKept` problems, in row order. */
  problems: RowProblem[];
  /** Header names (CSV, XLSX) or the keys seen, in order of appearance (JSON, NDJSON). */
  columns: string[];
  /** XLSX only: the sheet that was read. */
  sheet?: string;
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
  private readonly columnSet = new Set<string>();
  private readonly kept: RowProblem[] = [];
  private problemTotal = 0;

  constructor(readonly limits: ProcessingLimits) {}

  problem(row: number, message: string): void {
    this.problemTotal += 1;
    if (this.kept.length < this.limits.maxProblemsKept) this.kept.push({ row, message });
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

export function createTabularStream(
  what: string,
  options: {
    limits: ProcessingLimits;
    signal: AbortSignal;
    totalBytes?: number;
    onProgress?: (progress: ProcessingProgress) => void;
  },
  /** Yields the rows of each chunk read, in order: one array per chunk keeps async overhead per chunk, not per row. */
  read: (context: TabularContext) => AsyncIterable<RowRecord[]>,
): TabularStream {
  const context = new TabularContext(options.limits);
  let started = false;
  let rows = 0;

  const report = (message: string) =>
    options.onProgress?.({
      current: context.bytesRead,
      ...(options.totalBytes !== undefined ? { total: options.totalBytes } : {}),
      message,
    });

  async function* batches(): AsyncGenerator<RowRecord[]> {
    if (started) throw new Error(`This ${what} stream has already been iterated.`);
    started = true;
    const { batchSize, maxRows } = options.limits;
    let batch: RowRecord[] = [];
    for await (const records of read(context)) {
      rows += records.length;
      if (rows > maxRows) {
        throw new PermanentProcessingError('too_many_rows', `The ${what} has more than ${maxRows} data rows.`);
      }
      for (const record of records) {
        batch.push(record);
        if (batch.length >= batchSize) {
          options.signal.throwIfAborted();
          report(`parsed ${rows} rows`);
          yield batch;
          batch = [];
        }
      }
    }
    options.signal.throwIfAborted();
    if (batch.length > 0) yield batch;
    report(`parsed ${rows} rows, ${context.problemCount} problems`);
  }

  return {
    [Symbol.asyncIterator]: () => batches()[Symbol.asyncIterator](),
    summary: () => ({
      rows,
      problemCount: context.problemCount,
      problems: context.problems,
      columns: [...context.columns],
      ...(context.sheet !== undefined ? { sheet: context.sheet } : {}),
    }),
  };
}

/**
 * Builds row objects for a fixed header. Plain assignment is the fast path, but a column
 * named `__proto__` would set the prototype instead of a field, so such headers take the
 * slower path that defines own properties.
 */
export function rowBuilder(
  columns: readonly string[],
): (values: readonly unknown[], missing: unknown) => Record<string, unknown> {
  if (columns.includes('__proto__')) {
    return (values, missing) => Object.fromEntries(columns.map((column, index) => [column, values[index] ?? missing]));
  }
  return (values, missing) => {
    const data: Record<string, unknown> = {};
    for (let index = 0; index < columns.length; index += 1) data[columns[index]!] = values[index] ?? missing;
    return data;
  };
}
