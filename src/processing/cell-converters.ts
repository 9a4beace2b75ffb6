import {
  parseBoolean,
  parseDate,
  parseDateTime,
  parseNumber,
  validDate,
  type DateOrder,
  type DecimalMark,
} from './value-parsing.ts';

export const COLUMN_TYPES = ['integer', 'decimal', 'boolean', 'date', 'datetime', 'text'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** How a column's text is read: its type and the locale convention that settles it. */
export interface ColumnFormat {
  type: ColumnType;
  decimal: DecimalMark;
  dateOrder: DateOrder;
}

/** What a converter answers for a value that does not read as its column's type. */
export const NOT_CONVERTED: unique symbol = Symbol('not converted');

/** A cell as its column's type (null when empty), or NOT_CONVERTED. */
export type CellConverter = (value: unknown) => unknown;

/**
 * One converter per settled column format, chosen once: every cell of a column is then read
 * without deciding anything again. The common spellings (plain numbers, ISO 8601 dates and
 * date-times) are checked character by character and answered without a regular expression
 * or an intermediate object; anything else takes the general parser of value-parsing.ts,
 * so both paths give the same value.
 */
export function compileConverter(format: ColumnFormat): CellConverter {
  switch (format.type) {
    case 'text':
      return (value) => value ?? null;
    case 'boolean':
      return nonEmpty(
        (text) => parseBoolean(text) ?? NOT_CONVERTED,
        (value) => (typeof value === 'boolean' ? value : NOT_CONVERTED),
      );
    case 'integer':
    case 'decimal': {
      const integer = format.type === 'integer';
      const mark = format.decimal;
      const fromNumber = (value: unknown) =>
        typeof value === 'number' && (!integer || Number.isInteger(value)) ? value : NOT_CONVERTED;
      return nonEmpty((text) => {
        const plain = plainNumber(text, mark, integer);
        if (plain !== undefined) return plain;
        const parsed = parseNumber(text, mark);
        return parsed && (!integer || parsed.integer) ? parsed.value : NOT_CONVERTED;
      }, fromNumber);
    }
    case 'date': {
      const order = format.dateOrder;
      return nonEmpty((text) => (isIsoDate(text) ? text : (parseDate(text, order) ?? NOT_CONVERTED)), notText);
    }
    case 'datetime': {
      const order = format.dateOrder;
      return nonEmpty((text) => (isIsoDateTime(text) ? text : (parseDateTime(text, order) ?? NOT_CONVERTED)), notText);
    }
  }
}

const notText = () => NOT_CONVERTED;

/** Empty cells are null; text is trimmed before `fromText`; anything else goes to `fromOther`. */
function nonEmpty(fromText: (text: string) => unknown, fromOther: (value: unknown) => unknown): CellConverter {
  return (value) => {
    if (value === null || value === undefined) return null;
    if (typeof value !== 'string') return fromOther(value);
    if (value.length === 0) return null;
    const text = isSpace(value.charCodeAt(0)) || isSpace(value.charCodeAt(value.length - 1)) ? value.trim() : value;
    return text.length === 0 ? null : fromText(text);
  };
}

/** Whether a cell of text is empty once trimmed, without trimming the common non-blank cell. */
export function isBlankText(value: string): boolean {
  return value.length === 0 || (isSpace(value.charCodeAt(0)) && value.trim() === '');
}

function isSpace(code: number): boolean {
  // A superset of what String.prototype.trim removes: a false positive only costs a trim.
  return (
    code === 32 ||
    (code >= 9 && code <= 13) ||
    code === 0xa0 ||
    code === 0x1680 ||
    code === 0xfeff ||
    (code >= 0x2000 && code <= 0x3000)
  );
}

const DIGIT_0 = 48;
const DIGIT_9 = 57;

function isDigit(code: number): boolean {
  return code >= DIGIT_0 && code <= DIGIT_9;
}

/**
 * `[+-]digits[mark digits]` without grouping, as parseNumber reads it, or undefined for any
 * other spelling (grouped, a leading zero, too many digits for an exact integer, …), which
 * the general parser then judges.
 */
function plainNumber(text: string, mark: DecimalMark, integer: boolean): number | undefined {
  const markCode = mark.charCodeAt(0);
  let index = 0;
  const first = text.charCodeAt(0);
  if (first === 43 || first === 45) index = 1;
  const digitsStart = index;
  while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
  const digits = index - digitsStart;
  if (digits === 0 || digits > 15) return undefined;
  if (digits > 1 && text.charCodeAt(digitsStart) === DIGIT_0) return undefined;
  if (index < text.length) {
    if (integer || text.charCodeAt(index) !== markCode) return undefined;
    const fractionStart = index + 1;
    index = fractionStart;
    while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
    if (index !== text.length || index === fractionStart) return undefined;
  }
  const value = Number(mark === '.' ? text : text.replace(',', '.'));
  return value === 0 ? 0 : value;
}

function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - DIGIT_0;
  const units = text.charCodeAt(at + 1) - DIGIT_0;
  return tens >= 0 && tens <= 9 && units >= 0 && units <= 9 ? tens * 10 + units : -1;
}

/** `YYYY-MM-DD`, a valid day: already what a date column stores. */
function isIsoDate(text: string): boolean {
  return text.length === 10 && isoDateAt(text);
}

function isoDateAt(text: string): boolean {
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return false;
  const high = twoDigits(text, 0);
  const low = twoDigits(text, 2);
  if (high < 0 || low < 0) return false;
  return validDate(high * 100 + low, twoDigits(text, 5), twoDigits(text, 8));
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`, valid: already what a date-time column stores
 * (parseDateTime gives back exactly this text for it).
 */
function isIsoDateTime(text: string): boolean {
  if (text.length < 19 || text.charCodeAt(10) !== 84 || !isoDateAt(text)) return false;
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return false;
  const hours = twoDigits(text, 11);
  const minutes = twoDigits(text, 14);
  const seconds = twoDigits(text, 17);
  if (hours < 0 || hours > 23 || minutes < 0 || minutes > 59 || seconds < 0 || seconds > 59) return false;
  let index = 19;
  if (text.charCodeAt(index) === 46) {
    const fractionStart = index + 1;
    index = fractionStart;
    while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
    if (index === fractionStart || index - fractionStart > 9) return false;
  }
  if (index === text.length) return true;
  const zone = text.charCodeAt(index);
  if (zone === 90) return index + 1 === text.length;
  if (zone !== 43 && zone !== 45) return false;
  return (
    index + 6 === text.length &&
    twoDigits(text, index + 1) >= 0 &&
    text.charCodeAt(index + 3) === 58 &&
    twoDigits(text, index + 4) >= 0
  );
}
