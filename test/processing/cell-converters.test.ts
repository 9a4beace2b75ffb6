import { describe, expect, it } from 'vitest';
import { compileConverter, NOT_CONVERTED } from '../../src/processing/cell-converters.ts';
import type { ColumnFormat } from '../../src/processing/column-inference.ts';
import { parseDate, parseDateTime, parseNumber } from '../../src/processing/value-parsing.ts';

const format = (
  type: ColumnFormat['type'],
  decimal: ColumnFormat['decimal'] = '.',
  dateOrder: ColumnFormat['dateOrder'] = 'dmy',
) => ({
  type,
  decimal,
  dateOrder,
});

/** What the general parsers answer: the compiled converters' shortcuts must give the same. */
function general(text: string, column: ColumnFormat): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  if (column.type === 'integer' || column.type === 'decimal') {
    const parsed = parseNumber(trimmed, column.decimal);
    return parsed && (column.type === 'decimal' || parsed.integer) ? parsed.value : NOT_CONVERTED;
  }
  const parsed = column.type === 'date' ? parseDate(trimmed, column.dateOrder) : parseDateTime(trimmed, column.dateOrder);
  return parsed ?? NOT_CONVERTED;
}

describe('compiled cell converters', () => {
  it('read numbers exactly as the general parser does, for every spelling tried', () => {
    const spellings = [
      '0',
      '-0',
      '+5',
      '42',
      ' 42 ',
      '007',
      '1.5',
      '-1.50',
      '1,5',
      '1.',
      '.5',
      ',5',
      '1,234',
      '1.234,5',
      '1 234',
      'abc',
      '123456789012345',
      '1234567890123456',
      '9007199254740993',
      '12e3',
      '-',
      '',
      '   ',
    ];
    for (const decimal of ['.', ','] as const) {
      for (const type of ['integer', 'decimal'] as const) {
        const column = format(type, decimal);
        const convert = compileConverter(column);
        for (const text of spellings)
          expect([text, decimal, type, convert(text)]).toEqual([text, decimal, type, general(text, column)]);
      }
    }
  });

  it('read dates and date-times exactly as the general parser does', () => {
    const dates = [
      '2024-02-29',
      '2023-02-29',
      '2024-13-01',
      '0000-01-01',
      '2024-1-5',
      '2024/01/05',
      '05/01/2024',
      '31/12/2024',
      'x024-01-01',
    ];
    const dateTimes = [
      '2024-03-01T09:30:00',
      '2024-03-01T09:30:00Z',
      '2024-03-01T09:30:00.123456789Z',
      '2024-03-01T09:30:00.1234567890Z',
      '2024-03-01T09:30:00+01:00',
      '2024-03-01T09:30:00+0100',
      '2024-03-01T24:00:00',
      '2024-03-01T09:60:00',
      '2024-03-01 09:30:00',
      '2024-03-01T9:30',
      '2024-03-01T09:30:00z',
      '2024-03-01',
      '31/12/2024 18:30',
      '2024-03-01T09:30:00.Z',
    ];
    for (const dateOrder of ['dmy', 'mdy', 'ymd'] as const) {
      for (const [type, texts] of [
        ['date', dates],
        ['datetime', dateTimes],
      ] as const) {
        const column = format(type, '.', dateOrder);
        const convert = compileConverter(column);
        for (const text of texts) expect([text, dateOrder, convert(text)]).toEqual([text, dateOrder, general(text, column)]);
      }
    }
  });

  it('give empty cells null, keep text as it is, and leave XLSX numbers and booleans typed', () => {
    expect(compileConverter(format('text'))('  a ')).toBe('  a ');
    expect(compileConverter(format('text'))(undefined)).toBeNull();
    expect(compileConverter(format('integer'))(' ')).toBeNull();
    expect(compileConverter(format('integer'))(3)).toBe(3);
    expect(compileConverter(format('integer'))(3.5)).toBe(NOT_CONVERTED);
    expect(compileConverter(format('decimal'))(3.5)).toBe(3.5);
    expect(compileConverter(format('boolean'))(true)).toBe(true);
    expect(compileConverter(format('boolean'))('Yes')).toBe(true);
    expect(compileConverter(format('date'))(45000)).toBe(NOT_CONVERTED);
  });
});
