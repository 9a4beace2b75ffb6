import {
  compileConverter,
  isBlankText,
  NOT_CONVERTED,
  type CellConverter,
  type ColumnFormat,
  type ColumnType,
} from './cell-converters.ts';
import {
  dateReadings,
  dateTimeReadings,
  parseBoolean,
  parseDate,
  parseNumber,
  type DateOrder,
  type DecimalMark,
} from './value-parsing.ts';

export { COLUMN_TYPES, type ColumnFormat, type ColumnType } from './cell-converters.ts';

/** Locale evidence worth telling a person about, and doubts. */
export type ColumnFlag = 'ambiguous' | 'decimal_comma' | 'thousands_separator' | 'day_first' | 'month_first';

export interface ColumnProfile {
  name: string;
  type: ColumnType;
  /** Whether an empty cell was seen (over the whole file). */
  nullable: boolean;
  /** A few distinct values as written, from the sample. */
  examples: string[];
  flags: ColumnFlag[];
  /** Values that did not read as the type (over the whole file); they are kept as text. */
  mismatches: number;
}

/** What the file says about the locale: a `;` delimiter goes with a decimal comma and day-first dates. */
export interface LocaleHint {
  decimal: DecimalMark;
  dateOrder: 'dmy' | 'mdy';
}

export function localeHintFor(delimiter: string | undefined): LocaleHint {
  return delimiter === ';' ? { decimal: ',', dateOrder: 'dmy' } : { decimal: '.', dateOrder: 'mdy' };
}

const MAX_EXAMPLES = 3;
const MAX_EXAMPLE_CHARS = 100;

/** The text of a cell, or undefined for a value that is not text (XLSX numbers, booleans). */
function textOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value.trim() : undefined;
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || (typeof value === 'string' && value.trim() === '');
}

/**
 * Counters for one column over the sample window: how many non-empty values each reading
 * accepts. Memory is a fixed set of numbers plus a few examples, whatever the sample size.
 */
class ColumnEvidence {
  nonEmpty = 0;
  empty = 0;
  boolean = 0;
  numberDot = 0;
  numberComma = 0;
  /** Values whose number differs between the two decimal marks ("1,234", "1.234"). */
  numberDiffers = 0;
  integerDot = 0;
  integerComma = 0;
  groupedDot = 0;
  groupedComma = 0;
  fractionComma = 0;
  dates: Record<DateOrder, number> = { dmy: 0, mdy: 0, ymd: 0 };
  dateTimes: Record<DateOrder, number> = { dmy: 0, mdy: 0, ymd: 0 };
  /** Date or date-time values readable both day-first and month-first, and read differently. */
  dateDiffers = 0;
  examples: string[] = [];

  add(value: unknown): void {
    if (isEmpty(value)) {
      this.empty += 1;
      return;
    }
    this.nonEmpty += 1;
    if (typeof value === 'number') {
      this.numberDot += 1;
      this.numberComma += 1;
      if (Number.isInteger(value)) {
        this.integerDot += 1;
        this.integerComma += 1;
      }
      this.example(String(value));
      return;
    }
    if (typeof value === 'boolean') {
      this.boolean += 1;
      this.example(String(value));
      return;
    }
    const text = textOf(value);
    if (text === undefined) return;
    this.example(text);
    if (parseBoolean(text) !== undefined) this.boolean += 1;
    const dot = parseNumber(text, '.');
    const comma = parseNumber(text, ',');
    if (dot) {
      this.numberDot += 1;
      if (dot.integer) this.integerDot += 1;
      if (dot.grouped) this.groupedDot += 1;
    }
    if (comma) {
      this.numberComma += 1;
      if (comma.integer) this.integerComma += 1;
      if (comma.grouped) this.groupedComma += 1;
      if (comma.fraction) this.fractionComma += 1;
    }
    if (dot && comma && dot.value !== comma.value) this.numberDiffers += 1;
    const dateOrders = dateReadings(text);
    for (const order of dateOrders) this.dates[order] += 1;
    const dateTimeOrders = dateTimeReadings(text);
    for (const order of dateTimeOrders) this.dateTimes[order] += 1;
    const readings = dateOrders.length > 0 ? dateOrders : dateTimeOrders;
    if (readings.includes('dmy') && readings.includes('mdy') && parseDate(text, 'dmy') !== parseDate(text, 'mdy')) {
      this.dateDiffers += 1;
    }
  }

  private example(text: string): void {
    if (this.examples.length >= MAX_EXAMPLES) return;
    const clipped = text.length > MAX_EXAMPLE_CHARS ? `${text.slice(0, MAX_EXAMPLE_CHARS)}…` : text;
    if (!this.examples.includes(clipped)) this.examples.push(clipped);
  }

  /** The reading every non-empty sampled value accepts, with the evidence that chose it. */
  decide(hint: LocaleHint): { format: ColumnFormat; flags: ColumnFlag[] } {
    const all = this.nonEmpty;
    const base = { decimal: hint.decimal, dateOrder: hint.dateOrder as DateOrder };
    if (all === 0) return { format: { type: 'text', ...base }, flags: [] };
    if (this.boolean === all) return { format: { type: 'boolean', ...base }, flags: [] };

    const dotOk = this.numberDot === all;
    const commaOk = this.numberComma === all;
    if (dotOk || commaOk) {
      const flags: ColumnFlag[] = [];
      let decimal: DecimalMark;
      if (dotOk && commaOk) {
        decimal = hint.decimal;
        // Only values such as "1,234" read differently; plain integers settle nothing and doubt nothing.
        if (this.numberDiffers > 0) flags.push('ambiguous');
      } else decimal = dotOk ? '.' : ',';
      const integer = decimal === '.' ? this.integerDot === all : this.integerComma === all;
      if (decimal === ',' && this.fractionComma > 0) flags.push('decimal_comma');
      if ((decimal === '.' ? this.groupedDot : this.groupedComma) > 0) flags.push('thousands_separator');
      return { format: { type: integer ? 'integer' : 'decimal', decimal, dateOrder: base.dateOrder }, flags };
    }

    const dateTime = (counts: Record<DateOrder, number>, type: 'date' | 'datetime') => {
      if (counts.ymd === all) return { format: { type, decimal: base.decimal, dateOrder: 'ymd' as DateOrder }, flags: [] };
      const dmy = counts.dmy === all;
      const mdy = counts.mdy === all;
      if (!dmy && !mdy) return undefined;
      const flags: ColumnFlag[] = [];
      let dateOrder: DateOrder;
      if (dmy && mdy) {
        dateOrder = hint.dateOrder;
        if (this.dateDiffers > 0) flags.push('ambiguous');
      } else dateOrder = dmy ? 'dmy' : 'mdy';
      if (!flags.includes('ambiguous') && this.dateDiffers + (dmy !== mdy ? 1 : 0) > 0) {
        flags.push(dateOrder === 'dmy' ? 'day_first' : 'month_first');
      }
      return { format: { type, decimal: base.decimal, dateOrder }, flags };
    };
    const date = dateTime(this.dates, 'date');
    if (date) return date;
    // A column of date-times may hold bare dates (midnight): count those as date-times too.
    const combined: Record<DateOrder, number> = {
      dmy: this.dates.dmy + this.dateTimes.dmy,
      mdy: this.dates.mdy + this.dateTimes.mdy,
      ymd: this.dates.ymd + this.dateTimes.ymd,
    };
    const dateTimes = dateTime(combined, 'datetime');
    if (dateTimes) return dateTimes;
    return { format: { type: 'text', ...base }, flags: [] };
  }
}

/** A type an import schema fixes; the locale conventions it leaves out are the file's to settle. */
export interface FixedFormat {
  type: ColumnType;
  decimal?: DecimalMark;
  dateOrder?: DateOrder;
}

function isNumeric(type: ColumnType): boolean {
  return type === 'integer' || type === 'decimal';
}

/**
 * Infers column types over a sample of rows, then follows the rest of the file: nullability and
 * mismatches are counted over every row. The sample is the caller's to bound.
 */
export class ColumnInference {
  private readonly evidence: ColumnEvidence[];
  private formats: ColumnFormat[] | undefined;
  private flags: ColumnFlag[][] = [];
  private converters: CellConverter[] = [];
  private textColumns: boolean[] = [];
  private readonly nulls: number[];
  private readonly mismatches: number[];

  constructor(
    readonly columns: readonly string[],
    private readonly hint: LocaleHint,
    /**
     * Types fixed in advance (an import schema), by column index; the others are inferred. A
     * fixed type without a decimal mark or date order takes the one the file's values settle.
     */
    private readonly fixed: ReadonlyMap<number, FixedFormat> = new Map(),
  ) {
    this.evidence = columns.map(() => new ColumnEvidence());
    this.nulls = columns.map(() => 0);
    this.mismatches = columns.map(() => 0);
  }

  /** Adds a sampled row's values (by column position) to the evidence. */
  sample(values: readonly unknown[]): void {
    for (let index = 0; index < this.evidence.length; index += 1) this.evidence[index]!.add(values[index]);
  }

  /** Settles every column's format from the evidence sampled so far. */
  settle(): ColumnFormat[] {
    if (!this.formats) {
      const decided = this.evidence.map((evidence, index) => {
        const decided = evidence.decide(this.hint);
        const fixed = this.fixed.get(index);
        if (!fixed) return decided;
        const sameKind = decided.format.type === fixed.type || (isNumeric(decided.format.type) && isNumeric(fixed.type));
        const dated = decided.format.type === 'date' || decided.format.type === 'datetime';
        return {
          format: {
            type: fixed.type,
            decimal: fixed.decimal ?? decided.format.decimal,
            dateOrder: fixed.dateOrder ?? (dated ? decided.format.dateOrder : this.hint.dateOrder),
          },
          flags: sameKind && fixed.dateOrder === undefined && fixed.decimal === undefined ? decided.flags : [],
        };
      });
      this.formats = decided.map((entry) => entry.format);
      this.flags = decided.map((entry) => entry.flags);
      this.converters = this.formats.map(compileConverter);
      this.textColumns = this.formats.map((format) => format.type === 'text');
    }
    return this.formats;
  }

  /**
   * One cell of column `index` as its column's type (null when empty), or NOT_CONVERTED;
   * counts nulls and mismatches. Column types must be settled first.
   */
  convert(index: number, value: unknown): unknown {
    const converter = this.converters[index];
    if (converter === undefined) throw new Error(`Column ${index} has no settled type.`);
    const converted = converter(value);
    if (converted === null || (this.textColumns[index] && typeof value === 'string' && isBlankText(value))) {
      this.nulls[index]! += 1;
    } else if (converted === NOT_CONVERTED) this.mismatches[index]! += 1;
    return converted;
  }

  profiles(): ColumnProfile[] {
    const formats = this.settle();
    return this.columns.map((name, index) => ({
      name,
      type: formats[index]!.type,
      nullable: this.nulls[index]! > 0,
      examples: [...this.evidence[index]!.examples],
      flags: [...this.flags[index]!],
      mismatches: this.mismatches[index]!,
    }));
  }
}
