import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import { ERRORS } from '../errors/catalog.ts';
import { SNIFF_HEAD_BYTES, sniffContent } from '../processing/content-sniff.ts';
import type { SupportedContentType } from '../processing/content-types.ts';

/**
 * A pass-through stream that refuses bytes which contradict their declared type before they
 * reach storage: the first bytes are sniffed (magic bytes, JSON's opening token), and text
 * formats must be text (JSON and NDJSON: UTF-8 all the way through). Only the head is buffered.
 */
export class ContentInspector extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private judged = false;
  /** Bytes of a UTF-8 sequence cut by a chunk boundary, checked with the next chunk. */
  private carry: Buffer = Buffer.alloc(0);
  private readonly textual: boolean;

  constructor(
    private readonly type: SupportedContentType,
    private readonly filename: string,
  ) {
    super();
    // CSV may be in any encoding (processing detects and transcodes it); JSON is UTF-8 by definition.
    this.textual = type.kind === 'json' || type.kind === 'ndjson';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.textual && !this.checkUtf8(chunk, false)) return callback(this.notUtf8());
    if (this.judged) return callback(null, chunk);
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_HEAD_BYTES) return callback();
    this.judge(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.textual && !this.checkUtf8(Buffer.alloc(0), true)) return callback(this.notUtf8());
    if (this.judged) return callback();
    this.judge(callback);
  }

  private judge(callback: TransformCallback): void {
    const head = Buffer.concat(this.head);
    this.head = [];
    this.judged = true;
    const verdict = sniffContent(head, this.type.mime);
    if (!verdict.ok) return callback(ERRORS.unsupportedMediaType(`${this.filename}: ${verdict.reason}`));
    callback(null, head);
  }

  private checkUtf8(chunk: Buffer, final: boolean): boolean {
    const bytes = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    const complete = final ? bytes.length : completeUtf8Length(bytes);
    this.carry = Buffer.from(bytes.subarray(complete));
    return isUtf8(bytes.subarray(0, complete));
  }

  private notUtf8() {
    return ERRORS.unsupportedMediaType(
      `${this.filename}: the content is declared as ${this.type.mime} but is not valid UTF-8 text.`,
    );
  }
}

/**
 * The length of the prefix of `bytes` that does not end inside a multi-byte UTF-8 sequence,
 * so a character split across two chunks is judged whole.
 */
export function completeUtf8Length(bytes: Buffer): number {
  const end = bytes.length;
  for (let back = 1; back <= Math.min(3, end); back += 1) {
    const byte = bytes[end - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: keep looking for the lead byte
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? end - back : end;
  }
  return end;
}
