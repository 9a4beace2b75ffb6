import type { ImportSchemaDefinition } from './import-schema.ts';
import type { ProcessingLimits, ProcessingProgress } from './processing-options.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { TabularContext, type RejectedRow, type RowRecord, type TabularStream } from './tabular-context.ts';
import { typedRows } from './typed-rows.ts';

// The row and summary types and the reader's context live in tabular-context.ts (typed-rows.ts
// needs them without this module); formats import them from here.
export * from './tabular-context.ts';

export function createTabularStream(
  what: string,
  options: {
    limits: ProcessingLimits;
    signal: AbortSignal;
    totalBytes?: number;
    onProgress?: (progress: ProcessingProgress) => void;
    inferTypes?: boolean;
    schema?: ImportSchemaDefinition;
    onReject?: (rejected: RejectedRow) => void;
  },
  /** Yields the rows of each chunk read, in order: one array per chunk keeps async overhead per chunk, not per row. */
  read: (context: TabularContext) => AsyncIterable<RowRecord[]>,
): TabularStream {
  const context = new TabularContext(options.limits, options.onReject);
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
    const source = options.inferTypes || options.schema ? typedRows(read(context), context, options.schema) : read(context);
    for await (const records of source) {
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
      rejectedRows: context.rejectedRows,
      problems: context.problems,
      // With types, the columns are those stored (an import schema renames and leaves out some).
      columns: context.columnTypes ? context.columnTypes.map((profile) => profile.name) : [...context.columns],
      ...(context.sheet !== undefined ? { sheet: context.sheet } : {}),
      ...(context.encoding !== undefined ? { encoding: context.encoding } : {}),
      ...(context.dialect !== undefined ? { dialect: { ...context.dialect } } : {}),
      ...(context.columnTypes !== undefined ? { columnTypes: context.columnTypes } : {}),
      ...(context.sheets.length > 0
        ? {
            sheets: context.sheets.map((sheet) => {
              const types = context.columnTypesBySheet.get(sheet.name);
              return types ? { ...sheet, columns: types.map((profile) => profile.name), columnTypes: types } : { ...sheet };
            }),
          }
        : {}),
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
