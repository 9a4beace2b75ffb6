import { isAscii, isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import iconv from 'iconv-lite';

/**
 * Which character encoding a text file is in, judged from its first bytes, and a streaming
 * decoder to UTF-16 strings for it. Spreadsheets exported on Windows are Windows-1252 ("ANSI")
 * or UTF-16 ("Unicode text"); anything else is named by the uploader (`?encoding=`).
 */
export interface DetectedEncoding {
  /** A name iconv-lite knows, lower case: `utf-8`, `utf-16le`, `utf-16be`, `windows-1252`, … */
  encoding: string;
  /** Whether the file starts with a byte order mark (dropped from the text). */
  bom: boolean;
  /** How it was decided: a BOM, valid UTF-8, NUL byte pattern, the single-byte fallback, or the uploader's word. */
  evidence: 'bom' | 'utf8_valid' | 'nul_pattern' | 'fallback' | 'declared';
}

/** Fewer than this share of NUL bytes on one side of the byte pairs is not UTF-16 without BOM. */
const UTF16_NUL_SHARE = 0.3;

/** The encoding name as iconv-lite's canonical lower-case spelling, or undefined when unknown. */
export function knownEncoding(name: string): string | undefined {
  const lower = name.trim().toLowerCase();
  if (lower === '' || !iconv.encodingExists(lower)) return undefined;
  if (lower === 'utf8') return 'utf-8';
  if (lower === 'latin1' || lower === 'iso88591') return 'iso-8859-1';
  if (lower === 'cp1252' || lower === 'win1252') return 'windows-1252';
  return lower;
}

/**
 * Judges the encoding from the head of a file. `complete` says the head is the whole file (so a
 * multi-byte character cut at its end is an error, not a chunk boundary).
 */
export function detectTextEncoding(head: Buffer, complete = false): DetectedEncoding {
  if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
    return { encoding: 'utf-8', bom: true, evidence: 'bom' };
  }
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return { encoding: 'utf-16le', bom: true, evidence: 'bom' };
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return { encoding: 'utf-16be', bom: true, evidence: 'bom' };
  const utf16 = utf16ByNulPattern(head);
  if (utf16) return { encoding: utf16, bom: false, evidence: 'nul_pattern' };
  const checked = complete ? head : head.subarray(0, completeUtf8Prefix(head));
  if (isUtf8(checked)) return { encoding: 'utf-8', bom: false, evidence: 'utf8_valid' };
  return { encoding: 'windows-1252', bom: false, evidence: 'fallback' };
}

/** ASCII text in UTF-16 has a NUL in every other byte: odd positions for LE, even for BE. */
function utf16ByNulPattern(head: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  const pairs = Math.floor(Math.min(head.length, 4096) / 2);
  if (pairs < 2) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let index = 0; index < pairs * 2; index += 2) {
    if (head[index] === 0) evenNul += 1;
    if (head[index + 1] === 0) oddNul += 1;
  }
  if (oddNul / pairs >= UTF16_NUL_SHARE && evenNul === 0) return 'utf-16le';
  if (evenNul / pairs >= UTF16_NUL_SHARE && oddNul === 0) return 'utf-16be';
  return undefined;
}

/** The length of `bytes` without a UTF-8 sequence cut off at its end. */
export function completeUtf8Prefix(bytes: Buffer): number {
  const end = bytes.length;
  for (let back = 1; back <= Math.min(3, end); back += 1) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? end - back : end;
  }
  return end;
}

/** Control characters other than tab, line feed, form feed and carriage return. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001a\u001c-\u001f\u007f]/g;

/**
 * Text that is really binary data: a NUL, or more than 1% control characters once decoded.
 * Decoding first matters: UTF-16 text is full of NUL bytes and is still text.
 */
export function looksBinary(text: string): boolean {
  if (text.includes('\u0000')) return true;
  const controls = text.match(CONTROL)?.length ?? 0;
  return controls > Math.max(1, text.length / 100);
}

/** Decodes the head of a file for sniffing (a cut character at its end is dropped). */
export function decodeHead(head: Buffer, encoding: string): string {
  const decoder = createTextDecoder(encoding);
  return decoder.write(head);
}

export interface TextDecoderStream {
  write(bytes: Buffer): string;
  end(): string;
}

/**
 * A streaming decoder: bytes of a character cut by a chunk boundary wait for the next chunk.
 * UTF-8 uses Node's own decoder (the fast path of the 1M-row benchmark); the others iconv-lite.
 * A BOM, if any, is left in the text for UTF-8 and dropped by iconv-lite; callers drop a
 * leading U+FEFF either way.
 */
export function createTextDecoder(encoding: string): TextDecoderStream {
  if (encoding === 'utf-8') {
    const decoder = new StringDecoder('utf8');
    return { write: (bytes) => decoder.write(bytes), end: () => decoder.end() };
  }
  const decoder = iconv.getDecoder(encoding, { stripBOM: true });
  return { write: (bytes) => decoder.write(bytes), end: () => decoder.end() ?? '' };
}

/**
 * Follows a stream judged UTF-8 from its head past that head: whether each chunk is still valid
 * UTF-8, and whether everything before it was plain ASCII. ASCII reads the same in UTF-8 and in
 * Windows-1252, so a file that was ASCII until its first invalid byte can switch to Windows-1252
 * at that chunk without any earlier text being read differently.
 */
export class Utf8Follower {
  private carry: Buffer = Buffer.alloc(0);
  private ascii = true;

  /** The chunk with any bytes a previous chunk left incomplete, and what it shows. */
  check(chunk: Buffer): { bytes: Buffer; valid: boolean; asciiBefore: boolean; switchable: boolean } {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = completeUtf8Prefix(bytes);
    const body = bytes.subarray(0, end);
    this.carry = Buffer.from(bytes.subarray(end));
    const asciiBefore = this.ascii;
    if (this.ascii && !isAscii(body)) this.ascii = false;
    const valid = isUtf8(body);
    return { bytes, valid, asciiBefore, switchable: !valid && asciiBefore && !hasUtf8Sequence(body) };
  }

  /** Whether the stream ended inside a multi-byte sequence. */
  get truncated(): boolean {
    return this.carry.length > 0;
  }
}

/** Whether `bytes` hold at least one well-formed multi-byte UTF-8 sequence (text that really is UTF-8). */
function hasUtf8Sequence(bytes: Buffer): boolean {
  for (let index = 0; index < bytes.length; index += 1) {
    const lead = bytes[index]!;
    if (lead < 0xc2 || lead > 0xf4) continue;
    const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (index + length > bytes.length) return false;
    if (isUtf8(bytes.subarray(index, index + length))) return true;
  }
  return false;
}
