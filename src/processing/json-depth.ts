import { PermanentProcessingError } from './processing-error.ts';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Fails when a JSON text nests deeper than `maxDepth`, checked on the bytes before parsing:
 * `JSON.parse` itself copes, but the deep value would later overflow the stack of whatever
 * serialises it (JSONB insert, `JSON.stringify`).
 */
export function assertJsonDepth(bytes: Buffer, maxDepth: number, where: string): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index += 1;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      depth += 1;
      if (depth > maxDepth) throw nestingTooDeep(maxDepth, where);
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) depth -= 1;
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

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
