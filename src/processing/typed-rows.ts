import { NOT_CONVERTED } from './cell-converters.ts';
import { ColumnInference, localeHintFor, type FixedFormat } from './column-inference.ts';
import {
  CORRECTION_COLUMNS,
  mapHeader,
  SchemaRules,
  type CellProblem,
  type ImportSchemaDefinition,
  type SchemaMapping,
} from './import-schema.ts';
import type { RowRecord, TabularContext } from './tabular-context.ts';

/** Rows held back while the columns' types are unsettled: enough to judge, small enough to hold. */
export const TYPE_SAMPLE_ROWS = 1000;
/** …and at most this many characters of cell text, whichever comes first. */
const TYPE_SAMPLE_CHARS = 4 * 1024 * 1024;

/**
 * One header's worth of typing state (a workbook has one per sheet): the inference, and with an
 * import schema, the mapping of the header onto it.
 */
class HeaderState {
  readonly inference: ColumnInference;
  readonly mapping: SchemaMapping | undefined;
  /** The names rows are stored under, by file column position (undefined: left out). */
  readonly outputNames: (string | undefined)[];
  held: RowRecord[] | undefined = [];
  heldChars = 0;

  constructor(
    readonly header: readonly string[],
    delimiter: string | undefined,
    schema: ImportSchemaDefinition | undefined,
  ) {
    const hint = localeHintFor(delimiter);
    const fixed = new Map<number, FixedFormat>();
    if (schema) {
      this.mapping = mapHeader(schema, header);
      this.mapping.byPosition.forEach((column, index) => {
        if (column) {
          fixed.set(index, {
            type: column.type,
            ...(column.decimal === undefined ? {} : { decimal: column.decimal }),
            ...(column.date_order === undefined ? {} : { dateOrder: column.date_order }),
          });
        }
      });
      this.outputNames = header.map((name, index) => {
        const column = this.mapping!.byPosition[index];
        if (column) return column.name;
        return CORRECTION_COLUMNS.has(name) ? undefined : name;
      });
    } else {
      this.mapping = undefined;
      this.outputNames = [...header];
    }
    this.inference = new ColumnInference(header, hint, fixed);
  }
}

/**
 * Gives cells their column's type and, with an import schema, checks every row against it.
 *
 * The first rows (TYPE_SAMPLE_ROWS, or fewer when they are wide) are held back until the
 * types are settled from them; then they and every later row are converted as they pass, so
 * memory stays bounded whatever the file's size. Without a schema, a later value that does not
 * read as its column's type is kept as the text it was and reported (`type_mismatch`); with
 * one, a row that breaks a rule is left out of the records and handed to the correction file.
 */
export async function* typedRows(
  source: AsyncIterable<RowRecord[]>,
  context: TabularContext,
  schema: ImportSchemaDefinition | undefined,
): AsyncGenerator<RowRecord[]> {
  const rules = schema ? new SchemaRules(schema) : undefined;
  let state: HeaderState | undefined;
  let stateSheet: string | undefined;
  const finish = () => {
    if (!state) return;
    const profiles = state.inference.profiles().map((profile, index) => ({
      ...profile,
      name: state!.outputNames[index] ?? profile.name,
    }));
    const kept = profiles.filter((_, index) => state!.outputNames[index] !== undefined);
    context.noteColumnTypes(stateSheet, kept);
  };

  const mismatch = (current: HeaderState, row: number, index: number, raw: unknown) => {
    const type = current.inference.settle()[index]!.type;
    context.problem(row, `The value ${JSON.stringify(clip(String(raw)))} is not a valid ${type}; it is kept as text.`, {
      column: current.outputNames[index]!,
      code: 'type_mismatch',
    });
  };

  // Without a schema the stored names are the header's: cells are replaced in the row itself.
  const convertInPlace = (current: HeaderState, records: RowRecord[]): RowRecord[] => {
    const { inference, header } = current;
    for (const record of records) {
      const data = record.data;
      for (let index = 0; index < header.length; index += 1) {
        const name = header[index]!;
        const raw = data[name];
        if (raw === undefined && !Object.hasOwn(data, name)) continue;
        const converted = inference.convert(index, raw);
        if (converted === NOT_CONVERTED) mismatch(current, record.row, index, raw);
        else if (converted !== raw) set(data, name, converted);
      }
    }
    return records;
  };

  const convertWithSchema = (current: HeaderState, mapping: SchemaMapping, records: RowRecord[]): RowRecord[] => {
    const { inference, header, outputNames } = current;
    const kept: RowRecord[] = [];
    for (const record of records) {
      const source = record.data;
      const data: Record<string, unknown> = {};
      const problems: CellProblem[] = [];
      const values = new Map<string, unknown>();
      for (let index = 0; index < header.length; index += 1) {
        const name = header[index]!;
        const output = outputNames[index];
        if (output === undefined || !Object.hasOwn(source, name)) continue;
        const raw = source[name];
        const converted = inference.convert(index, raw);
        const column = mapping.byPosition[index];
        if (column) {
          problems.push(...rules!.check(column, raw, converted));
          values.set(column.name, converted === NOT_CONVERTED ? raw : converted);
        } else if (converted === NOT_CONVERTED) mismatch(current, record.row, index, raw);
        set(data, output, converted === NOT_CONVERTED ? raw : converted);
      }
      if (problems.length === 0) problems.push(...rules!.duplicates(values));
      if (problems.length > 0) {
        context.reject(
          record.row,
          header.map((name) => source[name]),
          problems,
        );
        continue;
      }
      rules!.remember(values);
      kept.push({ row: record.row, data });
    }
    return kept;
  };

  const convert = (current: HeaderState, records: RowRecord[]): RowRecord[] =>
    current.mapping ? convertWithSchema(current, current.mapping, records) : convertInPlace(current, records);

  const release = (current: HeaderState): RowRecord[] => {
    const held = current.held ?? [];
    current.held = undefined;
    current.inference.settle();
    return held.length > 0 ? convert(current, held) : [];
  };

  for await (const records of source) {
    if (!state || stateSheet !== context.sheet || state.header !== context.columns) {
      if (state) {
        const rest = release(state);
        if (rest.length > 0) yield rest;
        finish();
      }
      state = new HeaderState(context.columns, context.dialect?.delimiter, schema);
      stateSheet = context.sheet;
    }
    const current = state;
    if (current.held === undefined) {
      const converted = convert(current, records);
      if (converted.length > 0) yield converted;
      continue;
    }
    for (const record of records) {
      const values = current.header.map((column) => record.data[column]);
      for (const value of values) if (typeof value === 'string') current.heldChars += value.length;
      current.inference.sample(values);
      current.held.push(record);
    }
    if (current.held.length >= TYPE_SAMPLE_ROWS || current.heldChars >= TYPE_SAMPLE_CHARS) {
      const converted = release(current);
      // Noted now as well as at the end: a reader that stops early (a preview) still learns the types.
      finish();
      if (converted.length > 0) yield converted;
    }
  }
  if (!state && context.columns.length > 0) {
    state = new HeaderState(context.columns, context.dialect?.delimiter, schema);
    stateSheet = context.sheet;
  }
  if (state) {
    const rest = release(state);
    if (rest.length > 0) yield rest;
    finish();
  }
}

/** Own, enumerable, and never the prototype: a column may be called `__proto__`. */
function set(data: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
  else data[key] = value;
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
