import { PermanentProcessingError } from './processing-error.ts';

/**
 * Fails when a parsed JSON value nests deeper than `maxDepth`, which would later overflow the
 * stack of whatever serialises it (JSONB insert, `JSON.stringify`). Checked on the value: V8's `JSON.parse` is not recursive, so parsing a
 * bounded line first is safe, and walking the (usually flat) result is cheaper than scanning
 * every byte. The walk stops as soon as the limit is passed.
 */
export function assertValueDepth(value: unknown, maxDepth: number, where: string, depth = 1): void {
  if (typeof value !== 'object' || value === null) return;
  if (depth > maxDepth) throw nestingTooDeep(maxDepth, where);
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'object' && item !== null) assertValueDepth(item, maxDepth, where, depth + 1);
  } else {
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      if (typeof item === 'object' && item !== null) assertValueDepth(item, maxDepth, where, depth + 1);
    }
  }
}

export function nestingTooDeep(maxDepth: number, where: string): PermanentProcessingError {
  return new PermanentProcessingError('nesting_too_deep', `${where} nests deeper than the limit of ${maxDepth} levels.`);
}

export function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * One JSON record's text as an object, or undefined after noting the row's problem (invalid
 * JSON, or a value that is not an object): a bad record never stops the file.
 */
export function parseJsonObject(
  text: string,
  row: number,
  context: { problem(row: number, message: string): void },
): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    context.problem(row, `Invalid JSON: ${(error as Error).message}`);
    return undefined;
  }
  if (!isJsonObject(value)) {
    context.problem(row, `Expected a JSON object, found ${describeJsonValue(value)}.`);
    return undefined;
  }
  return value;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
