import type { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { sendBlob } from './blob-reply.ts';
import { parseRangeHeader, validateBlobKey, type BlobStore, type PutBlobOptions, type PutBlobResult } from './blob-store.ts';
import type { SignedBlobGrant } from './signed-url.ts';

/** What these routes need of the store: reads, single-use granted writes, and the check of a signed link. */
export interface SignedLinkStore extends Pick<BlobStore, 'get'> {
  verifySignedRequest(
    method: string,
    key: string,
    query: Readonly<Record<string, string | string[] | undefined>>,
  ): SignedBlobGrant;
  putGranted(key: string, body: Readable, options?: PutBlobOptions): Promise<PutBlobResult>;
}

export interface LocalBlobRoutesOptions {
  store: SignedLinkStore;
}

type SignedQuery = Record<string, string | string[] | undefined>;

/**
 * Serves the links the local driver signs: `GET /blobs/<key>` (with Range) and `PUT /blobs/<key>`
 * for direct uploads (single use: see `LocalBlobStore.putGranted`). The signature is the only credential, so these routes sit outside any
 * authentication; register them under the same prefix as `STORAGE` links (`/api/v1`).
 */
export async function localBlobRoutes(app: App, options: LocalBlobRoutesOptions): Promise<void> {
  const { store } = options;

  // The PUT body is the blob itself, streamed to the store: no parser may buffer it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  // Bytes are sent as stored: compressing would break Range offsets and the ETag.
  app.get('/blobs/*', { schema: { hide: true }, compress: false }, async (request, reply) => {
    const key = (request.params as { '*': string })['*'];
    const grant = store.verifySignedRequest(request.method, key, request.query as SignedQuery);
    validateBlobKey(key);
    const download = await store.get(key, { range: parseRangeHeader(request.headers.range) });
    reply
      .header('Accept-Ranges', 'bytes')
      .header('ETag', download.etag)
      .header('Content-Type', download.contentType)
      // The bytes are whatever was uploaded: never let a browser sniff them into HTML.
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cache-Control', 'private, no-cache')
      // The signature is the grant: a page on another site may embed or fetch the download.
      .header('Cross-Origin-Resource-Policy', 'cross-origin');
    if (grant.contentDisposition !== undefined) reply.header('Content-Disposition', grant.contentDisposition);
    return sendBlob(reply, download);
  });

  app.put('/blobs/*', { schema: { hide: true }, bodyLimit: Number.MAX_SAFE_INTEGER }, async (request, reply) => {
    const key = (request.params as { '*': string })['*'];
    const grant = store.verifySignedRequest(request.method, key, request.query as SignedQuery);
    validateBlobKey(key);
    const sentType = request.headers['content-type'];
    // A link signed for one content type is as invalid for another as a tampered one (as on S3).
    if (grant.contentType !== undefined && sentType !== grant.contentType) throw ERRORS.signedUrlInvalid();
    const declared = Number(request.headers['content-length']);
    if (grant.maxBytes !== undefined && Number.isFinite(declared) && declared > grant.maxBytes) {
      reply.header('Connection', 'close');
      throw ERRORS.fileTooLarge(grant.maxBytes);
    }
    const body = detachedBody(request.raw);
    let result;
    try {
      result = await store.putGranted(key, body, {
        ...(sentType === undefined ? {} : { contentType: sentType }),
        ...(grant.maxBytes === undefined ? {} : { maxBytes: grant.maxBytes }),
      });
    } catch (error) {
      // The rest of the body is not worth reading: answer, then drop the connection.
      request.raw.unpipe(body);
      reply.header('Connection', 'close');
      throw error;
    }
    return reply.code(201).header('ETag', `"${result.sha256}"`).send({ size_bytes: result.sizeBytes, sha256: result.sha256 });
  });
}

/**
 * The request body behind a pass-through: when the store gives up on it (too large), it
 * destroys only the pass-through, and the socket stays open long enough to carry the 413. A
 * client that disconnects mid-body still fails the put, so the store leaves nothing.
 */
function detachedBody(request: IncomingMessage): PassThrough {
  const body = new PassThrough();
  request.on('error', (error) => body.destroy(error));
  request.on('close', () => {
    if (!request.complete) body.destroy(new Error('the client closed the connection before the end of the body'));
  });
  request.pipe(body);
  return body;
}
