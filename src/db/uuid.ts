/** The textual form of a UUID (any version), as PostgreSQL's `uuid` type reads it. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `value` can be compared with a `uuid` column: anything else would make PostgreSQL
 * fail the query instead of finding nothing.
 */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}
