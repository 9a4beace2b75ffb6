import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PermanentProcessingError } from './processing-error.ts';

/**
 * Reads a blob stream chunk by chunk, counting bytes so progress can be reported and stopping
 * as soon as the abort signal fires, between chunks as well as during a pending read.
 */
export async function* readChunks(
  input: Readable,
  signal: AbortSignal,
  onBytes?: (bytesRead: number) => void,
): AsyncGenerator<Buffer> {
  const abort = () => input.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  signal.addEventListener('abort', abort, { once: true });
  let bytesRead = 0;
  try {
    signal.throwIfAborted();
    for await (const chunk of input) {
      signal.throwIfAborted();
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bytesRead += buffer.length;
      onBytes?.(bytesRead);
      yield buffer;
    }
    signal.throwIfAborted();
  } finally {
    signal.removeEventListener('abort', abort);
    // Stopping early (an error downstream, a consumer that breaks) must release the blob.
    if (!input.destroyed) input.destroy();
  }
}

/** Reads a whole (bounded) blob into memory; for formats whose decoders need random access. */
export async function readBounded(
  input: Readable,
  signal: AbortSignal,
  maxBytes: number,
  what: string,
  onBytes?: (bytesRead: number) => void,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of readChunks(input, signal, onBytes)) {
    total += chunk.length;
    if (total > maxBytes) {
      throw new PermanentProcessingError('file_too_large', `The ${what} is larger than the limit of ${maxBytes} bytes.`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Copies a blob to a private temporary file, bounded in size, for formats whose index sits at
 * the end of the file (zip). The caller must call `remove()` in a `finally`.
 */
export async function spoolToTempFile(
  input: Readable,
  options: {
    signal: AbortSignal;
    maxBytes: number;
    tempDir: string | undefined;
    what: string;
    onBytes?: (bytesRead: number) => void;
  },
): Promise<{ path: string; size: number; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(options.tempDir ?? os.tmpdir(), 'intake-spool-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const file = path.join(dir, 'blob');
  let size = 0;
  try {
    const chunks = readChunks(input, options.signal, options.onBytes);
    async function* bounded() {
      for await (const chunk of chunks) {
        size += chunk.length;
        if (size > options.maxBytes) {
          throw new PermanentProcessingError(
            'file_too_large',
            `The ${options.what} is larger than the limit of ${options.maxBytes} bytes.`,
          );
        }
        yield chunk;
      }
    }
    await pipeline(bounded, createWriteStream(file, { mode: 0o600 }));
    return { path: file, size, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * Splits an async byte source into its first `minBytes` (or fewer, at the end of input) and an
 * iterable of everything, head included, so a format can be sniffed without losing bytes.
 */
export async function peekHead(
  source: AsyncIterator<Buffer>,
  minBytes: number,
): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const headChunks: Buffer[] = [];
  let length = 0;
  let finished = false;
  while (length < minBytes) {
    const next = await source.next();
    if (next.done) {
      finished = true;
      break;
    }
    headChunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(headChunks, length);
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (finished) return;
      for (;;) {
        const next = await source.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await source.return?.(undefined);
    }
  }
  return { head, all: all() };
}
