import { type ContentKind, supportedContentType } from './content-types.ts';
import { decodeHead, detectTextEncoding, looksBinary } from './text-encoding.ts';

export type SniffResult = { ok: true } | { ok: false; reason: string };

/** How many leading bytes `sniffContent` wants; more is ignored, fewer is judged as far as it goes. */
export const SNIFF_HEAD_BYTES = 8 * 1024;

const BINARY_SIGNATURES: readonly { kind: 'png' | 'jpeg' | 'webp' | 'pdf' | 'zip'; test: (head: Buffer) => boolean }[] = [
  { kind: 'png', test: (head) => startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { kind: 'jpeg', test: (head) => startsWith(head, [0xff, 0xd8, 0xff]) },
  {
    kind: 'webp',
    test: (head) => head.subarray(0, 4).toString('latin1') === 'RIFF' && head.subarray(8, 12).toString('latin1') === 'WEBP',
  },
  // PDF readers accept the header anywhere in the first KiB; so do we.
  { kind: 'pdf', test: (head) => head.subarray(0, 1024).includes('%PDF-') },
  // An empty archive (PK\x05\x06) is no workbook, so only a local file header counts.
  { kind: 'zip', test: (head) => startsWith(head, [0x50, 0x4b, 0x03, 0x04]) },
];

function startsWith(head: Buffer, bytes: readonly number[]): boolean {
  return head.length >= bytes.length && bytes.every((byte, index) => head[index] === byte);
}

/** The binary format the bytes start with, if any we know. */
export function detectBinaryFormat(head: Buffer): 'png' | 'jpeg' | 'webp' | 'pdf' | 'zip' | undefined {
  return BINARY_SIGNATURES.find((signature) => signature.test(head))?.kind;
}

/**
 * Decides whether a file's first bytes agree with the content type the client declared, so
 * an upload can be refused before it is stored: magic bytes for the binary formats, valid
 * text that is not binary for CSV (in any encoding), UTF-8 without NUL bytes and the opening
 * token for JSON and NDJSON.
 * Pass the first `SNIFF_HEAD_BYTES` (fewer when the file is shorter).
 */
export function sniffContent(head: Buffer, declaredType: string): SniffResult {
  const type = supportedContentType(declaredType);
  if (!type) return { ok: false, reason: `${declaredType || 'The declared content type'} is not a supported content type.` };
  if (head.length === 0) return { ok: false, reason: 'The file is empty.' };
  const sample = head.subarray(0, SNIFF_HEAD_BYTES);
  const binary = detectBinaryFormat(sample);
  const kind: ContentKind = type.kind;
  switch (kind) {
    case 'png':
    case 'jpeg':
    case 'webp':
    case 'pdf':
      return binary === kind ? { ok: true } : mismatch(type.mime, binary);
    case 'xlsx':
      return binary === 'zip' ? { ok: true } : mismatch(type.mime, binary);
    case 'csv': {
      // CSV comes in whatever encoding the spreadsheet wrote; only binary data is refused.
      if (binary && binary !== 'pdf') return mismatch(type.mime, binary);
      const detected = detectTextEncoding(sample, head.length < SNIFF_HEAD_BYTES);
      const text = decodeHead(sample, detected.encoding).replace(/^\uFEFF/, '');
      if (looksBinary(text))
        return { ok: false, reason: `The content is declared as ${type.mime} but is binary data, not text.` };
      return text.trim() === '' ? { ok: false, reason: 'The CSV file has no header row.' } : { ok: true };
    }
    case 'json':
    case 'ndjson': {
      if (binary && binary !== 'pdf') return mismatch(type.mime, binary);
      const text = decodeUtf8Head(sample);
      if (text === undefined) {
        return { ok: false, reason: `The content is declared as ${type.mime} but is not valid UTF-8 text.` };
      }
      if (text.includes('\u0000'))
        return { ok: false, reason: `The content is declared as ${type.mime} but contains NUL bytes.` };
      const first = firstSignificant(text);
      if (kind === 'json') {
        if (first === '[') return { ok: true };
        if (first === '{')
          return { ok: false, reason: 'JSON files must hold an array of objects; this one holds a single object.' };
        return { ok: false, reason: 'The content is declared as JSON but does not start with an array.' };
      }
      return first === '{'
        ? { ok: true }
        : { ok: false, reason: 'The content is declared as NDJSON but its first line is not an object.' };
    }
  }
}

function mismatch(declared: string, found: string | undefined): SniffResult {
  const what = found === undefined ? 'no recognised format' : found === 'zip' ? 'a zip archive' : `${found.toUpperCase()} data`;
  return { ok: false, reason: `The content is declared as ${declared} but the bytes are ${what}.` };
}

/** UTF-8 (a BOM allowed) where a character cut off by the end of the sample is not an error. */
function decodeUtf8Head(sample: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(sample, { stream: true });
  } catch {
    return undefined;
  }
}

function firstSignificant(text: string): string | undefined {
  return /\S/.exec(text)?.[0];
}
