/** SQLSTATE codes Intake decides on; node-postgres and PGlite report the same ones. */
export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';

/** Whether a database error (or one it caused, as Drizzle wraps them) carries this SQLSTATE. */
export function hasPgCode(error: unknown, code: string): boolean {
  for (let current: unknown = error; current && typeof current === 'object';) {
    if ((current as { code?: unknown }).code === code) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
