// A cell a spreadsheet would read as a formula (or that a formula-aware import could run).
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV cell: quoted when needed (RFC 4180), and with a leading `'` when the text would start
 * a spreadsheet formula, so an export opened in Excel or Sheets never runs cell content.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
