/**
 * How one cell's text reads as a number, boolean, date or date-time under a given locale
 * convention. Pure functions: the inference (column-inference.ts) decides which convention a
 * column follows, these apply it.
 */
export type DecimalMark = '.' | ',';
/** Order of day, month and year in a date written with separators. */
export type DateOrder = 'dmy' | 'mdy' | 'ymd';

/** Grouping characters besides the other decimal mark: spaces (plain, no-break, narrow no-break) and the Swiss apostrophe. */
const GROUP_EXTRA = " \u00a0\u202f'";

const NUMBER_PATTERNS: Record<DecimalMark, RegExp> = {
  '.': numberPattern('.', ','),
  ',': numberPattern(',', '.'),
};

function numberPattern(decimal: string, group: string): RegExp {
  const groupClass = `[${escapeClass(group + GROUP_EXTRA)}]`;
  const mark = escapeClass(decimal);
  // Either digits grouped by threes with one consistent separator, or plain digits; then an optional fraction.
  return new RegExp(`^([+-])?(?:(\\d{1,3})((${groupClass})\\d{3}(?:\\4\\d{3})*)|(\\d+))?(?:[${mark}](\\d+))?$`, 'u');
}

function escapeClass(chars: string): string {
  return chars.replace(/[\]\\^-]/g, '\\$&');
}

export interface ParsedNumber {
  value: number;
  integer: boolean;
  /** A thousands separator was used. */
  grouped: boolean;
  /** A decimal mark was used. */
  fraction: boolean;
}

/**
 * A number under a decimal mark, or undefined. Leading zeros ("007", a code rather than a
 * quantity) and integers beyond 2^53 (identifiers JSON would round) are not numbers.
 */
export function parseNumber(text: string, decimal: DecimalMark): ParsedNumber | undefined {
  const match = NUMBER_PATTERNS[decimal].exec(text);
  if (!match) return undefined;
  const [, sign = '', groupedHead, groupedTail, separator, plain, fraction] = match;
  if (groupedHead === undefined && plain === undefined && fraction === undefined) return undefined;
  let digits: string;
  if (groupedHead !== undefined) digits = groupedHead + groupedTail!.split(separator!).join('');
  else digits = plain ?? '';
  if (digits.length > 1 && digits.startsWith('0')) return undefined;
  const integer = fraction === undefined;
  if (integer && digits.length > 15 && !Number.isSafeInteger(Number(digits))) return undefined;
  const value = Number(`${sign}${digits || '0'}${fraction === undefined ? '' : `.${fraction}`}`);
  if (!Number.isFinite(value)) return undefined;
  return {
    value: Object.is(value, -0) ? 0 : value,
    integer,
    grouped: groupedHead !== undefined,
    fraction: fraction !== undefined,
  };
}

const TRUE_WORDS = new Set(['true', 'yes']);
const FALSE_WORDS = new Set(['false', 'no']);

export function parseBoolean(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (TRUE_WORDS.has(lower)) return true;
  if (FALSE_WORDS.has(lower)) return false;
  return undefined;
}

const YMD = /^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$/;
const DAY_MONTH = /^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

export interface DateParts {
  year: number;
  month: number;
  day: number;
}

/** Which orders a date-only text can be read in (both `dmy` and `mdy` when day and month are ≤ 12). */
export function dateReadings(text: string): DateOrder[] {
  const ymd = YMD.exec(text);
  if (ymd) return validDate(Number(ymd[1]), Number(ymd[3]), Number(ymd[4])) ? ['ymd'] : [];
  const other = DAY_MONTH.exec(text);
  if (!other) return [];
  const first = Number(other[1]);
  const second = Number(other[3]);
  const year = Number(other[4]);
  const readings: DateOrder[] = [];
  if (validDate(year, second, first)) readings.push('dmy');
  if (validDate(year, first, second)) readings.push('mdy');
  return readings;
}

/** `2024-03-01` for a date text read in `order`, or undefined. */
export function parseDate(text: string, order: DateOrder): string | undefined {
  const parts = dateParts(text, order);
  return parts ? isoDate(parts) : undefined;
}

function dateParts(text: string, order: DateOrder): DateParts | undefined {
  const ymd = YMD.exec(text);
  if (ymd) {
    const parts = { year: Number(ymd[1]), month: Number(ymd[3]), day: Number(ymd[4]) };
    return validDate(parts.year, parts.month, parts.day) ? parts : undefined;
  }
  if (order === 'ymd') return undefined;
  const other = DAY_MONTH.exec(text);
  if (!other) return undefined;
  const first = Number(other[1]);
  const second = Number(other[3]);
  const parts =
    order === 'dmy'
      ? { year: Number(other[4]), month: second, day: first }
      : { year: Number(other[4]), month: first, day: second };
  return validDate(parts.year, parts.month, parts.day) ? parts : undefined;
}

/** Splits `date[ T]time` into its parts; undefined when the text has no time part. */
function splitDateTime(text: string): { date: string; time: RegExpExecArray } | undefined {
  const cut = text.search(/[T ]\d{1,2}:\d{2}/);
  if (cut <= 0) return undefined;
  const time = TIME.exec(text.slice(cut + 1).trim());
  return time ? { date: text.slice(0, cut), time } : undefined;
}

/** Which orders a date-time text can be read in. */
export function dateTimeReadings(text: string): DateOrder[] {
  const split = splitDateTime(text);
  if (!split || !validTime(split.time)) return [];
  return dateReadings(split.date);
}

/**
 * `2024-03-01T09:30:00` (with the fraction and offset the text gave, `Z` kept) for a date-time
 * text, or for a date alone (midnight) since a column of date-times may hold a bare date.
 */
export function parseDateTime(text: string, order: DateOrder): string | undefined {
  const split = splitDateTime(text);
  if (!split) {
    const date = parseDate(text, order);
    return date === undefined ? undefined : `${date}T00:00:00`;
  }
  if (!validTime(split.time)) return undefined;
  const date = parseDate(split.date, order);
  if (date === undefined) return undefined;
  const [, hours, minutes, seconds = '00', fraction = '', zone = ''] = split.time;
  const offset =
    zone === '' ? '' : zone.toUpperCase() === 'Z' ? 'Z' : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  return `${date}T${hours!.padStart(2, '0')}:${minutes}:${seconds}${fraction}${offset}`;
}

function validTime(time: RegExpExecArray): boolean {
  const hours = Number(time[1]);
  const minutes = Number(time[2]);
  const seconds = time[3] === undefined ? 0 : Number(time[3]);
  return hours < 24 && minutes < 60 && seconds < 60;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function validDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1 || year < 1) return false;
  if (day <= DAYS_IN_MONTH[month - 1]!) return true;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && day === 29 && leap;
}

function isoDate(parts: DateParts): string {
  return `${String(parts.year).padStart(4, '0')}-${String(parts.month).padStart(2, '0')}-${String(parts.day).padStart(2, '0')}`;
}
