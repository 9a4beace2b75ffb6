import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { Type } from '../vendor/typebox.ts';
import { ERRORS } from '../errors/catalog.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { API_PREFIX } from '../http/openapi.ts';
import { Id } from '../http/schema-types.ts';
import type { StoredFile } from '../files/file.service.ts';
import type { TusUploadRow } from './tus-upload.schema.ts';
import type { TusUploads } from './tus-uploads.ts';

const TUS_VERSION = '1.0.0';
const CHUNK_TYPE = 'application/offset+octet-stream';
const EXTENSIONS = 'creation,creation-with-upload,termination,expiration,checksum';
const BASE = '/uploads/tus';

const Params = Type.Object({ id: Id() });
const CreateQuery = Type.Object({
  process: Type.Boolean({ default: true, description: 'Queue processing once the upload completes (default true).' }),
  allow_duplicate: Type.Boolean({
    default: false,
    description: 'Keep the file even when you already have one with the same SHA-256 (default false).',
  }),
});

export interface TusRoutesOptions {
  uploads: TusUploads;
  maxUploadBytes: number;
}

/**
 * The tus 1.0 protocol (core, creation, creation-with-upload, termination, expiration, checksum
 * with sha256) under `/uploads/tus`, behind the same authentication as every route. Errors are
 * problem documents like everywhere else; someone else's upload answers 404.
 */
export async function tusRoutes(app: App, options: TusRoutesOptions): Promise<void> {
  const { uploads } = options;
  const tags = ['uploads'];
  const security = AUTH_SECURITY;

  // Chunks are streamed by the handler, never parsed or buffered.
  app.addContentTypeParser(CHUNK_TYPE, (_request, _payload, done) => done(null));
  app.addHook('onSend', async (_request, reply) => {
    reply.header('Tus-Resumable', TUS_VERSION);
  });
  app.addHook('preHandler', async (request) => {
    if (request.method === 'OPTIONS') return;
    if (request.headers['tus-resumable'] !== TUS_VERSION) {
      request.raw.resume();
      throw ERRORS.tusVersionUnsupported(TUS_VERSION);
    }
  });

  app.options(
    BASE,
    {
      schema: { tags, summary: 'tus: what this server supports (Tus-Version, Tus-Extension, Tus-Max-Size).' },
    },
    async (_request, reply) =>
      reply
        .code(204)
        .header('Tus-Version', TUS_VERSION)
        .header('Tus-Extension', EXTENSIONS)
        .header('Tus-Max-Size', String(options.maxUploadBytes))
        .header('Tus-Checksum-Algorithm', 'sha256')
        .send(),
  );

  app.post(
    BASE,
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'tus: creates a resumable upload (Upload-Length; Upload-Metadata filename and content_type).',
        description:
          'The length is checked against MAX_UPLOAD_BYTES (413 file_too_large) and taken from the account quota ' +
          '(413 quota_exceeded) before any byte is stored. A body of type application/offset+octet-stream is the first ' +
          'chunk (creation-with-upload). Once complete the file goes through exactly what a multipart upload does.',
        querystring: CreateQuery,
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const length = headerInteger(request.headers['upload-length'], 'Upload-Length');
      if (length === undefined) {
        request.raw.resume();
        throw ERRORS.badRequest('Send Upload-Length (deferred lengths are not supported).');
      }
      const metadata = parseMetadata(header(request.headers['upload-metadata']));
      const filename = metadata.get('filename') ?? metadata.get('name') ?? 'upload';
      const contentType = metadata.get('content_type') ?? metadata.get('filetype') ?? 'application/octet-stream';
      let row: TusUploadRow;
      try {
        row = await uploads.create(caller, {
          length,
          filename,
          contentType,
          process: request.query.process,
          allowDuplicate: request.query.allow_duplicate,
        });
      } catch (error) {
        request.raw.resume();
        throw error;
      }
      reply.code(201).header('Location', `${API_PREFIX}${BASE}/${row.id}`);
      if (isChunk(request.headers['content-type'])) {
        const result = await uploads.patch(caller, row.id, 0, chunkBody(request.raw, false), checksumOf(request.headers));
        row = result.row;
        describeCompletion(reply, result.completed);
      }
      return reply.header('Upload-Offset', String(row.offset)).header('Upload-Expires', row.expiresAt.toUTCString()).send();
    },
  );

  app.head(
    `${BASE}/:id`,
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: 'tus: the offset an upload has reached.', params: Params },
    },
    async (request, reply) => {
      const row = await uploads.get(callerOf(request), request.params.id);
      if (row.fileId) reply.header('Intake-File-Id', row.fileId);
      return reply
        .code(200)
        .header('Cache-Control', 'no-store')
        .header('Upload-Offset', String(row.status === 'receiving' ? row.offset : row.length))
        .header('Upload-Length', String(row.length))
        .header('Upload-Expires', row.expiresAt.toUTCString())
        .send();
    },
  );

  app.patch(
    `${BASE}/:id`,
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'tus: appends a chunk at Upload-Offset (Content-Type application/offset+octet-stream).',
        description:
          'With Upload-Checksum (sha256) only a whole matching chunk is kept (460 checksum_mismatch otherwise); without ' +
          'it, what arrived before a connection broke is kept and the client resumes from there. The last chunk ' +
          'completes the upload: the answer then carries Intake-File-Id, Intake-Job-Id when processing was queued, and ' +
          'Intake-Duplicate-Of for a duplicate.',
        params: Params,
      },
    },
    async (request, reply) => {
      if (!isChunk(request.headers['content-type'])) {
        request.raw.resume();
        throw ERRORS.unsupportedMediaType(`Send chunks as ${CHUNK_TYPE}.`);
      }
      const offset = headerInteger(request.headers['upload-offset'], 'Upload-Offset');
      if (offset === undefined) {
        request.raw.resume();
        throw ERRORS.badRequest('Send Upload-Offset.');
      }
      let checksum: { sha256Base64: string } | undefined;
      try {
        checksum = checksumOf(request.headers);
      } catch (error) {
        request.raw.resume();
        throw error;
      }
      const result = await uploads.patch(
        callerOf(request),
        request.params.id,
        offset,
        chunkBody(request.raw, checksum === undefined),
        checksum,
      );
      describeCompletion(reply, result.completed);
      return reply
        .code(204)
        .header('Upload-Offset', String(result.row.status === 'receiving' ? result.row.offset : result.row.length))
        .header('Upload-Expires', result.row.expiresAt.toUTCString())
        .send();
    },
  );

  app.delete(
    `${BASE}/:id`,
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: 'tus: terminates an upload and deletes its bytes.', params: Params },
    },
    async (request, reply) => {
      await uploads.terminate(callerOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
}

function callerOf(request: Parameters<typeof requireUser>[0]) {
  const user = requireUser(request);
  return { id: user.id, role: user.role };
}

function describeCompletion(reply: FastifyReply, completed: StoredFile | undefined): void {
  if (!completed) return;
  reply.header('Intake-File-Id', completed.file.id);
  if (completed.jobId) reply.header('Intake-Job-Id', completed.jobId);
  if (completed.duplicateOf) reply.header('Intake-Duplicate-Of', completed.duplicateOf);
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isChunk(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === CHUNK_TYPE;
}

function headerInteger(value: string | string[] | undefined, name: string): number | undefined {
  const text = header(value);
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) throw ERRORS.badRequest(`${name} must be a whole number.`);
  return Number(text);
}

/** `Upload-Metadata: key base64,key base64`; values are decoded as UTF-8. */
function parseMetadata(value: string | undefined): Map<string, string> {
  const entries = new Map<string, string>();
  if (!value) return entries;
  for (const pair of value.split(',')) {
    const [key, encoded = ''] = pair.trim().split(' ');
    if (!key) continue;
    if (!/^[A-Za-z0-9+/=]*$/.test(encoded)) throw ERRORS.badRequest('Upload-Metadata values must be base64.');
    entries.set(key, Buffer.from(encoded, 'base64').toString('utf8'));
  }
  return entries;
}

function checksumOf(headers: Record<string, string | string[] | undefined>): { sha256Base64: string } | undefined {
  const value = header(headers['upload-checksum']);
  if (value === undefined) return undefined;
  const [algorithm, digest] = value.trim().split(' ');
  if (algorithm?.toLowerCase() !== 'sha256' || !digest) {
    throw ERRORS.badRequest('Upload-Checksum supports sha256 only ("sha256 <base64 digest>").');
  }
  return { sha256Base64: digest };
}

/**
 * The chunk's bytes as they arrive. When the client goes away in the middle the stream ends
 * normally if `keepPartial` (what arrived is stored, and the client resumes from there), or
 * fails (nothing is stored) when the chunk must be whole, as with a checksum.
 */
function chunkBody(raw: IncomingMessage, keepPartial: boolean): Readable {
  const body = new PassThrough();
  raw.pipe(body);
  raw.once('close', () => {
    if (raw.complete) return;
    raw.unpipe(body);
    if (keepPartial) body.end();
    else body.destroy(new Error('the client went away before the chunk was complete'));
  });
  return body;
}
