import type { Readable } from 'node:stream';
import type { Multipart } from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import { isAppError } from '../errors/app-error.ts';
import { ERRORS } from '../errors/catalog.ts';

/** RFC 2046 §5.1.1: a boundary is 1 to 70 characters from a small set. */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

export interface MultipartFile {
  fieldName: string;
  filename: string;
  declaredType: string;
  stream: Readable;
}

/**
 * The file parts of a multipart request, as plain streams, and the translation of what the
 * multipart parser raises while reading the body (a boundary that never appears, a body cut
 * off before its closing boundary, a malformed part header): the client's fault, 400
 * `malformed_body`, wherever the error surfaces (the iterator, a file's stream, or the code
 * that consumed it). Limits keep their own codes.
 */
export interface MultipartUpload {
  files: AsyncGenerator<MultipartFile>;
  /** The error to answer with, given what the upload failed with. */
  clientFault(error: unknown): Promise<unknown>;
}

export function multipartFiles(
  request: FastifyRequest,
  limits: NonNullable<Parameters<FastifyRequest['parts']>[0]>['limits'],
): MultipartUpload {
  checkBoundary(request.headers['content-type']);
  let parserFailed = false;
  const handedOut: Readable[] = [];
  const noteFailure = (error: unknown) => {
    if (!isOwnError(error)) parserFailed = true;
  };
  async function* files(): AsyncGenerator<MultipartFile> {
    const iterator = request.parts({ limits })[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Multipart>;
      try {
        next = await iterator.next();
      } catch (error) {
        noteFailure(error);
        throw error;
      }
      if (next.done) return;
      const part = next.value;
      if (part.type !== 'file') continue;
      // With the body already buffered, the parser may have failed the stream before we see it.
      handedOut.push(part.file);
      part.file.once('error', noteFailure);
      yield { fieldName: part.fieldname, filename: part.filename, declaredType: part.mimetype, stream: part.file };
    }
  }
  return {
    files: files(),
    async clientFault(error) {
      // Streams report a parser failure on the next tick, possibly after their reader saw it.
      await new Promise((resolve) => setImmediate(resolve));
      for (const stream of handedOut) if (stream.errored) noteFailure(stream.errored);
      return parserFailed && !isOwnError(error)
        ? ERRORS.malformedBody('The multipart body is malformed or ends before its closing boundary.')
        : error;
    },
  };
}

function checkBoundary(contentType: string | undefined): void {
  const match = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined || boundary === '') {
    throw ERRORS.malformedBody('multipart/form-data needs a boundary parameter in Content-Type.');
  }
  if (!BOUNDARY.test(boundary)) throw ERRORS.malformedBody('The multipart boundary must be 1-70 characters allowed by RFC 2046.');
}

/** Our own errors and the ones @fastify/multipart names (limits, not multipart) are mapped elsewhere. */
function isOwnError(error: unknown): boolean {
  if (isAppError(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('FST_');
}
