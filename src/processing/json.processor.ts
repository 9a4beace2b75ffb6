import type { Readable } from 'node:stream';
import { readChunks } from './input-stream.ts';
import { nestingTooDeep, parseJsonObject } from './json-depth.ts';
import { PermanentProcessingError } from './processing-error.ts';
import { resolveLimits, type TabularOptions } from './processing-options.ts';
import { createTabularStream, type RowRecord, type TabularContext, type TabularStream } from './tabular-stream.ts';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;

/**
 * A JSON array of objects → rows, without parsing the whole document: a byte scanner finds
 * where each top-level element starts and ends (tracking strings, escapes and nesting), and
 * only that element is handed to `JSON.parse`. Memory is one element, at most
 * `maxRecordBytes`; nesting beyond `maxJsonDepth` fails the file before any parse.
 *
 * An element that is not an object, or whose own text is invalid JSON, is a row problem;
 * a broken top level (no array, missing commas, truncated file) fails the file.
 */
export function processJson(input: Readable, options: TabularOptions): TabularStream {
  const limits = resolveLimits(options.limits);
  return createTabularStream('JSON file', { ...options, limits }, (context) => readJsonArray(input, options, context));
}

type State = 'before-array' | 'before-element' | 'element' | 'after-element' | 'after-array';

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

async function* readJsonArray(input: Readable, options: TabularOptions, context: TabularContext): AsyncGenerator<RowRecord[]> {
  const { maxRecordBytes, maxJsonDepth } = context.limits;
  let state: State = 'before-array';
  let row = 0;
  let offset = 0;
  let bomChecked = false;
  // The element being read: its complete earlier chunks, and where it starts in this one.
  let pieces: Buffer[] = [];
  let piecesLength = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;

  const malformed = (message: string, at = 0) =>
    new PermanentProcessingError('malformed_file', `The JSON file is not an array of objects: ${message} (byte ${offset + at}).`);
  const tooLarge = () =>
    new PermanentProcessingError('record_too_large', `JSON element ${row} is larger than the limit of ${maxRecordBytes} bytes.`);

  const finish = (bytes: Buffer): RowRecord | undefined => {
    const value = parseJsonObject(bytes.toString('utf8'), row, context);
    if (!value) return undefined;
    context.noteKeys(value);
    return { row, data: value };
  };

  for await (let chunk of readChunks(input, options.signal, (bytes) => (context.bytesRead = bytes))) {
    if (!bomChecked && chunk.length > 0) {
      bomChecked = true;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    let elementStart = state === 'element' ? 0 : -1;
    const records: RowRecord[] = [];
    for (let index = 0; index < chunk.length; index += 1) {
      const byte = chunk[index]!;
      switch (state) {
        case 'element': {
          let end = -1;
          let next: State = 'after-element';
          if (inString) {
            if (escaped) {
              escaped = false;
              continue;
            }
            // Most bytes are inside strings: jump to the next quote (memchr) instead of
            // stepping byte by byte, and decide from the backslashes before it whether it closes.
            const found = chunk.indexOf(QUOTE, index);
            const stop = found === -1 ? chunk.length : found;
            let backslashes = 0;
            while (stop - 1 - backslashes >= index && chunk[stop - 1 - backslashes] === BACKSLASH) backslashes += 1;
            if (found === -1) {
              escaped = backslashes % 2 === 1;
              index = chunk.length;
              continue;
            }
            index = found;
            if (backslashes % 2 === 1) continue;
            inString = false;
            if (scalar && depth === 0) end = index + 1;
            else continue;
          } else if (byte === QUOTE) {
            inString = true;
          } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
            depth += 1;
            // The array itself is one level, so an element may nest maxJsonDepth - 1.
            if (depth + 1 > maxJsonDepth) throw nestingTooDeep(maxJsonDepth, `JSON element ${row}`);
          } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
            if (depth > 0) {
              depth -= 1;
              if (depth === 0) end = index + 1;
            } else if (byte === CLOSE_BRACKET && scalar) {
              // A number, true, false or null ends at the array's own closing bracket.
              end = index;
              next = 'after-array';
            } else throw malformed('unbalanced closing bracket', index);
          } else if (scalar && depth === 0 && (byte === COMMA || isWhitespace(byte))) {
            end = index;
            if (byte === COMMA) next = 'before-element';
          }
          if (end === -1) continue;
          const tail = chunk.subarray(elementStart, end);
          const size = piecesLength + tail.length;
          if (size > maxRecordBytes) throw tooLarge();
          const record = finish(piecesLength > 0 ? Buffer.concat([...pieces, tail], size) : tail);
          if (record) records.push(record);
          pieces = [];
          piecesLength = 0;
          elementStart = -1;
          state = next;
          continue;
        }
        case 'before-array':
          if (isWhitespace(byte)) continue;
          if (byte !== OPEN_BRACKET) throw malformed('the top level is not an array', index);
          state = 'before-element';
          continue;
        case 'before-element':
        case 'after-element':
          if (isWhitespace(byte)) continue;
          if (byte === CLOSE_BRACKET) {
            if (state === 'before-element' && row > 0) throw malformed('a comma before the closing bracket', index);
            state = 'after-array';
            continue;
          }
          if (state === 'after-element') {
            if (byte !== COMMA) throw malformed('expected a comma between elements', index);
            state = 'before-element';
            continue;
          }
          row += 1;
          state = 'element';
          elementStart = index;
          depth = 0;
          inString = false;
          escaped = false;
          scalar = byte !== OPEN_BRACE && byte !== OPEN_BRACKET;
          if (byte === QUOTE) inString = true;
          else if (!scalar) {
            depth = 1;
            if (depth + 1 > maxJsonDepth) throw nestingTooDeep(maxJsonDepth, `JSON element ${row}`);
          }
          continue;
        case 'after-array':
          if (!isWhitespace(byte)) throw malformed('content after the closing bracket', index);
          continue;
      }
    }
    offset += chunk.length;
    if (state === 'element' && elementStart !== -1) {
      const rest = chunk.subarray(elementStart);
      piecesLength += rest.length;
      if (piecesLength > maxRecordBytes) throw tooLarge();
      pieces.push(rest);
    }
    if (records.length > 0) yield records;
  }
  if ((state as State) !== 'after-array') throw malformed(state === 'before-array' ? 'the file is empty' : 'the file ends early');
}
