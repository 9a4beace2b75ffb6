/**
 * What PostgreSQL's `jsonb` (and `text`) cannot hold: the NUL character and UTF-16 surrogates
 * that are not part of a pair. JSON, CSV and XLSX sources can carry both.
 *
 * Keys (column names) are sanitised, since a column belongs to every row: refusing it would
 * refuse the whole file. Values are left alone and the row is reported instead, since changing
 * a user's value silently would store something the file does not say.
 */
// eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL cannot store
const UNSTORABLE = /\u0000|\p{Cs}/u;
// eslint-disable-next-line no-control-regex -- as above
const UNSTORABLE_ALL = /\u0000|\p{Cs}/gu;
/** How JSON.stringify writes the same characters (it escapes lone surrogates, never pairs). */
const UNSTORABLE_ESCAPE = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

/** U+FFFD REPLACEMENT CHARACTER stands in for what cannot be stored. */
export function storableText(text: string): string {
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, '\uFFFD') : text;
}

export type StorableRow = { ok: true; data: Record<string, unknown>; encoded: string } | { ok: false; message: string };

/**
 * The row's data as it will be stored, with its JSON text, or why it cannot be. The common case
 * costs one regular expression test on text already encoded.
 */
export function storableRow(data: Record<string, unknown>): StorableRow {
  const encoded = JSON.stringify(data);
  // JSON.stringify writes \u escapes only for control characters and lone surrogates.
  if (!encoded.includes('\\u') || !UNSTORABLE_ESCAPE.test(encoded)) return { ok: true, data, encoded };
  const value = unstorableValue(data);
  if (value) return { ok: false, message: value };
  // Only keys (or text that merely looks like an escape) remain: sanitise the keys.
  const clean = sanitiseKeys(data) as Record<string, unknown>;
  return { ok: true, data: clean, encoded: JSON.stringify(clean) };
}

function unstorableValue(value: unknown): string | undefined {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return 'A value holds a NUL character (\\u0000), which cannot be stored.';
    if (/\p{Cs}/u.test(value)) return 'A value holds an unpaired UTF-16 surrogate (such as \\ud800), which cannot be stored.';
    return undefined;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = unstorableValue(item);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) {
      const found = unstorableValue(item);
      if (found) return found;
    }
  }
  return undefined;
}

function sanitiseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitiseKeys);
  if (value !== null && typeof value === 'object') {
    // Own entries only, defined (not assigned) so that a `__proto__` key stays a field.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableText(key), sanitiseKeys(item)]));
  }
  return value;
}
