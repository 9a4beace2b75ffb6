import { NOT_CONVERTED } from './cell-converters.ts';
import type { ColumnFormat, ColumnType } from './column-inference.ts';
import { PermanentProcessingError } from './processing-error.ts';
import type { DateOrder, DecimalMark } from './value-parsing.ts';

/** One expected column of an import schema. */
export interface ImportSchemaColumn {
  name: string;
  type: ColumnType;
  /** An empty cell is a problem. */
  required?: boolean;
  /** No two rows of the file hold the same value. */
  unique?: boolean;
  /** The value (after conversion) is one of these. */
  enum?: (string | number | boolean)[];
  /** A regular expression the cell's text must match (whole value). */
  pattern?: string;
  /** Numbers: the smallest value; text: the shortest length; dates: the earliest ISO date. */
  min?: number | string;
  max?: number | string;
  /** Other header spellings that name this column; matched ignoring case, spaces and punctuation. */
  aliases?: string[];
  /** How dates in this column are written, when the file cannot settle it. */
  date_order?: DateOrder;
  /** The decimal mark of this column's numbers, when the file cannot settle it. */
  decimal?: DecimalMark;
}

export interface ImportSchemaDefinition {
  columns: ImportSchemaColumn[];
  /** What happens to a column the schema does not name: kept as inferred, or the file is refused. */
  unknown_columns: 'keep' | 'refuse';
  /** One bad row fails the whole file (nothing is stored) instead of being left out. */
  all_or_nothing: boolean;
}

/** Most distinct values remembered for `unique` columns, over all of them: a hash set costs memory. */
export const MAX_UNIQUE_VALUES = 2_000_000;

/**
 * Columns of a correction file (problems.csv) that are not data: a corrected file can be
 * uploaded as it is, whatever the schema says of unknown columns.
 */
export const CORRECTION_COLUMNS = new Set(['_row', '_sheet', '_problems']);

/** "E-mail", "email " and "EMAIL" are one header: letters and digits only, lower case. */
export function normaliseHeader(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

export interface CellProblem {
  column: string;
  code: string;
  message: string;
}

/** How a file's header maps onto a schema's columns. */
export interface SchemaMapping {
  /** For each file column (by position): the schema column it fills, or undefined. */
  byPosition: (ImportSchemaColumn | undefined)[];
  /** File columns the schema does not name (kept as they are). */
  unknown: string[];
}

export function mapHeader(schema: ImportSchemaDefinition, header: readonly string[]): SchemaMapping {
  const byName = new Map<string, ImportSchemaColumn>();
  for (const column of schema.columns) {
    for (const spelling of [column.name, ...(column.aliases ?? [])]) {
      const key = normaliseHeader(spelling);
      if (key !== '' && !byName.has(key)) byName.set(key, column);
    }
  }
  const filled = new Set<ImportSchemaColumn>();
  const unknown: string[] = [];
  const byPosition = header.map((name) => {
    const column = byName.get(normaliseHeader(name));
    if (!column || filled.has(column)) {
      if (!CORRECTION_COLUMNS.has(name)) unknown.push(name);
      return undefined;
    }
    filled.add(column);
    return column;
  });
  if (unknown.length > 0 && schema.unknown_columns === 'refuse') {
    throw new PermanentProcessingError(
      'schema_mismatch',
      `The file has columns the import schema does not name: ${unknown.map((name) => JSON.stringify(name)).join(', ')}.`,
    );
  }
  const missing = schema.columns.filter((column) => column.required && !filled.has(column));
  if (missing.length > 0) {
    throw new PermanentProcessingError(
      'schema_mismatch',
      `The file has no column for the required ${missing.map((column) => JSON.stringify(column.name)).join(', ')}.`,
    );
  }
  return { byPosition, unknown };
}

/** The format a schema column fixes (undefined settles by the file's evidence). */
export function schemaFormat(column: ImportSchemaColumn, fallback: { decimal: DecimalMark; dateOrder: DateOrder }): ColumnFormat {
  return { type: column.type, decimal: column.decimal ?? fallback.decimal, dateOrder: column.date_order ?? fallback.dateOrder };
}

/**
 * Checks converted values against a schema's rules, remembering values of `unique` columns
 * across the whole file (first occurrence wins).
 */
export class SchemaRules {
  private readonly seen = new Map<string, Set<string>>();
  private remembered = 0;
  private readonly patterns = new Map<string, RegExp>();

  constructor(readonly schema: ImportSchemaDefinition) {
    for (const column of schema.columns) {
      if (column.unique) this.seen.set(column.name, new Set());
      if (column.pattern !== undefined) this.patterns.set(column.name, new RegExp(`^(?:${column.pattern})$`, 'u'));
    }
  }

  /** The problems of one cell; `raw` is the text as written, `value` as converted (or NOT_CONVERTED). */
  check(column: ImportSchemaColumn, raw: unknown, value: unknown): CellProblem[] {
    const problems: CellProblem[] = [];
    const name = column.name;
    const empty = raw === null || raw === undefined || (typeof raw === 'string' && raw.trim() === '');
    if (empty) {
      if (column.required) problems.push({ column: name, code: 'required', message: `${name} is required.` });
      return problems;
    }
    if (value === NOT_CONVERTED) {
      problems.push({
        column: name,
        code: 'type',
        message: `${JSON.stringify(clip(String(raw)))} is not a valid ${column.type}.`,
      });
      return problems;
    }
    if (column.enum && !column.enum.some((allowed) => allowed === value || String(allowed) === String(value))) {
      problems.push({
        column: name,
        code: 'enum',
        message: `${JSON.stringify(clip(String(value)))} is not one of ${column.enum.map((item) => JSON.stringify(item)).join(', ')}.`,
      });
    }
    const pattern = this.patterns.get(name);
    if (pattern && !pattern.test(String(raw).trim())) {
      problems.push({
        column: name,
        code: 'pattern',
        message: `${JSON.stringify(clip(String(raw)))} does not match ${column.pattern}.`,
      });
    }
    const measure = typeof value === 'string' && (column.type === 'text' || column.type === 'boolean') ? value.length : value;
    const what = typeof measure === 'number' && typeof value === 'string' ? 'length' : 'value';
    if (column.min !== undefined && typeof measure === typeof column.min && (measure as number | string) < column.min) {
      problems.push({ column: name, code: 'min', message: `The ${what} is below the minimum ${column.min}.` });
    }
    if (column.max !== undefined && typeof measure === typeof column.max && (measure as number | string) > column.max) {
      problems.push({ column: name, code: 'max', message: `The ${what} is above the maximum ${column.max}.` });
    }
    return problems;
  }

  /**
   * Whether the row's values of unique columns are new; remembers them only when the whole
   * row is accepted (a rejected row does not make a later, correct one a duplicate).
   */
  duplicates(values: ReadonlyMap<string, unknown>): CellProblem[] {
    const problems: CellProblem[] = [];
    for (const [name, set] of this.seen) {
      const value = values.get(name);
      if (value === null || value === undefined || value === '') continue;
      if (set.has(uniqueKey(value)))
        problems.push({
          column: name,
          code: 'unique',
          message: `${JSON.stringify(clip(String(value)))} appears in an earlier row.`,
        });
    }
    return problems;
  }

  remember(values: ReadonlyMap<string, unknown>): void {
    for (const [name, set] of this.seen) {
      const value = values.get(name);
      if (value === null || value === undefined || value === '') continue;
      const key = uniqueKey(value);
      if (set.has(key)) continue;
      this.remembered += 1;
      if (this.remembered > MAX_UNIQUE_VALUES) {
        throw new PermanentProcessingError(
          'schema_mismatch',
          `Uniqueness is checked over at most ${MAX_UNIQUE_VALUES} distinct values per file; this file has more.`,
        );
      }
      set.add(key);
    }
  }
}

function uniqueKey(value: unknown): string {
  return typeof value === 'string' ? value.trim() : JSON.stringify(value);
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
