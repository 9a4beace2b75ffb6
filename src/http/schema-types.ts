import { Type, type TInteger, type TSchema, type TString } from '../vendor/typebox.ts';

/**
 * Schema building blocks every route uses for what clients send, so that one rule holds for
 * every text field and every number: what PostgreSQL or a log line cannot hold is refused by
 * validation (422 naming the field) instead of failing in the database (500).
 */

/**
 * Text without C0 control characters other than tab, line feed and carriage return, without
 * DEL, and without lone UTF-16 surrogates. NUL cannot be stored in a PostgreSQL `text` or
 * `jsonb`; the other controls and lone surrogates corrupt logs, CSV exports and terminals.
 * Ajv compiles patterns with the `u` flag, so a well-formed surrogate pair is one code point
 * and only a lone half matches `\uD800-\uDFFF`.
 */
export const SAFE_TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F\\uD800-\\uDFFF]*$';

/** Single-line text: no control characters at all (names, filters, sort keys). */
export const SAFE_LINE_PATTERN = '^[^\\u0000-\\u001F\\u007F\\uD800-\\uDFFF]*$';

const SAFE_TEXT = new RegExp(SAFE_TEXT_PATTERN, 'u');
const SAFE_LINE = new RegExp(SAFE_LINE_PATTERN, 'u');

/** The same rule as the schemas, for values read outside them (raw query keys, decoded cursors). */
export function isSafeText(value: string, singleLine = true): boolean {
  return (singleLine ? SAFE_LINE : SAFE_TEXT).test(value);
}

type StringOptions = Parameters<typeof Type.String>[0];
type TextOptions = Omit<NonNullable<StringOptions>, 'pattern' | 'format'> & { maxLength: number; multiline?: boolean };

/** Free text from a client. A maximum length is required: every column and log line has one. */
export function Text(options: TextOptions): TString {
  const { multiline, ...rest } = options;
  return Type.String({ ...rest, pattern: multiline ? SAFE_TEXT_PATTERN : SAFE_LINE_PATTERN });
}

/** A UUID, as every external id is. */
export function Id(options: Omit<NonNullable<StringOptions>, 'format'> = {}): TString {
  return Type.String({ ...options, format: 'uuid' });
}

/** The largest value a PostgreSQL `integer` holds; offsets, row numbers and counts stay below it. */
export const MAX_INT32 = 2_147_483_647;

type IntegerOptions = NonNullable<Parameters<typeof Type.Integer>[0]>;

/**
 * An integer bounded on both sides. Without a maximum, `1e30` is a valid JSON Schema integer
 * and reaches the database as a value no column can hold.
 */
export function BoundedInteger(options: IntegerOptions & { minimum: number; maximum?: number }): TInteger {
  return Type.Integer({ ...options, maximum: options.maximum ?? MAX_INT32 });
}

/** `limit` (1–100, default 20) and `offset` of an offset-paged list. */
export function pageQueryFields(defaults: { limit?: number; maxLimit?: number } = {}) {
  return {
    limit: BoundedInteger({ minimum: 1, maximum: defaults.maxLimit ?? 100, default: defaults.limit ?? 20 }),
    offset: BoundedInteger({ minimum: 0, default: 0 }),
  };
}

/** The answer of an offset-paged list (DESIGN.md: `{ items, total, limit, offset }`). */
export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });
}

/** A value or JSON `null`. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
