import { Type, type Static } from '../vendor/typebox.ts';
import { BoundedInteger, Id, PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { App } from '../http/app-types.ts';
import { sendBlob } from '../storage/blob-reply.ts';
import { parseRangeHeader } from '../storage/blob-store.ts';
import { multipartFiles } from '../http/multipart-input.ts';
import type { FileImportOptions, FileListItem } from './file.schema.ts';
import type { Caller, FileService, IncomingFile, StoredFile } from './file.service.ts';
import { API_PREFIX } from '../http/openapi.ts';
import { attachmentDisposition } from './filename.ts';
import { PreviewResponse } from './file-preview.schema.ts';
import type { UploadPreviewer } from './upload-preview.ts';

const FileStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('uploaded'),
  Type.Literal('processing'),
  Type.Literal('processed'),
  Type.Literal('failed'),
]);

const FileResponseShape = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    owner_id: Type.String({ format: 'uuid' }),
    filename: Type.String(),
    content_type: Type.String(),
    size_bytes: Type.Integer(),
    sha256: Type.Union([Type.String(), Type.Null()]),
    status: FileStatus,
    metadata: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    created_at: Type.String({ format: 'date-time' }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { title: 'File' },
);
export const FileResponse = FileResponseShape;
export type FileResponse = Static<typeof FileResponse>;

const StoredFileResponse = Type.Intersect([
  FileResponseShape,
  Type.Object({
    job_id: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The processing job queued for the file, if any.',
    }),
    duplicate_of: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'Set when the uploaded bytes equal a file you already have: nothing new was stored and this is that file.',
    }),
  }),
]);

const ProcessResponse = Type.Object({
  job_id: Type.String({ format: 'uuid' }),
  status_url: Type.String({ description: 'Poll it, or follow the job over WebSocket or SSE.' }),
});

const FileParams = Type.Object({ id: Id() });

const ImportQueryFields = {
  encoding: Type.Optional(
    Text({
      minLength: 1,
      maxLength: 40,
      description: 'CSV: the text encoding (e.g. windows-1252, utf-16le) instead of the detected one.',
    }),
  ),
  sheets: Type.Optional(
    Text({ minLength: 1, maxLength: 2000, description: 'XLSX: the sheets to read, comma-separated; every sheet by default.' }),
  ),
  schema: Type.Optional(Id({ description: 'An import schema of yours that every row is validated against.' })),
};

const UploadQuery = Type.Object({
  process: Type.Boolean({ default: true, description: 'Queue processing of the uploaded files (default true).' }),
  dry_run: Type.Boolean({
    default: false,
    description:
      'Store nothing: answer the preview of the one uploaded tabular file (as POST /files/{id}/preview would) instead of storing it.',
  }),
  preview_rows: BoundedInteger({ minimum: 1, maximum: 200, default: 20, description: 'With dry_run: how many rows to answer.' }),
  allow_duplicate: Type.Boolean({
    default: false,
    description: 'Store the bytes even when you already have a file with the same SHA-256 (default false).',
  }),
  ...ImportQueryFields,
});

const ProcessQuery = Type.Object(ImportQueryFields);

/** The import options named in a query (undefined when none is). */
function importOptionsOf(query: { encoding?: string; sheets?: string; schema?: string }): FileImportOptions | undefined {
  const options: FileImportOptions = {
    ...(query.encoding === undefined ? {} : { encoding: query.encoding }),
    ...(query.sheets === undefined
      ? {}
      : {
          sheets: query.sheets
            .split(',')
            .map((name) => name.trim())
            .filter((name) => name !== ''),
        }),
    ...(query.schema === undefined ? {} : { schema_id: query.schema }),
  };
  return Object.keys(options).length > 0 ? options : undefined;
}

const ListQuery = Type.Object({
  ...pageQueryFields(),
  status: Type.Optional(FileStatus),
  content_type: Type.Optional(Text({ maxLength: 200 })),
  filename: Type.Optional(Text({ maxLength: 255, description: 'Substring of the file name, case-insensitive.' })),
  sort: Type.Union([Type.Literal('created_at'), Type.Literal('filename')], { default: 'created_at' }),
  order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'desc' }),
  owner_id: Type.Optional(Id({ description: "Admins only: list this user's files." })),
});

const LinkBody = Type.Object({
  expires_in: BoundedInteger({ minimum: 1, default: 3600, description: 'Seconds until the link stops working.' }),
});
const LinkResponse = Type.Object({ url: Type.String(), expires_at: Type.String({ format: 'date-time' }) });

const DirectUploadBody = Type.Object({
  filename: Text({ minLength: 1, maxLength: 1024 }),
  content_type: Text({ minLength: 1, maxLength: 200 }),
  size_bytes: BoundedInteger({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$' })),
});
const DirectUploadResponse = Type.Object({
  file_id: Type.String({ format: 'uuid' }),
  upload_url: Type.String(),
  method: Type.Literal('PUT'),
  headers: Type.Record(Type.String(), Type.String()),
  expires_at: Type.String({ format: 'date-time' }),
});

export function toFileResponse(row: FileListItem): FileResponse {
  return {
    id: row.id,
    owner_id: row.ownerId,
    filename: row.filename,
    content_type: row.contentType,
    size_bytes: row.sizeBytes,
    sha256: row.sha256,
    status: row.status,
    metadata: row.metadata ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function toStoredFileResponse(stored: StoredFile): Static<typeof StoredFileResponse> {
  return { ...toFileResponse(stored.file), job_id: stored.jobId, duplicate_of: stored.duplicateOf ?? null };
}

function callerOf(request: Parameters<typeof requireUser>[0]): Caller {
  const user = requireUser(request);
  return { id: user.id, role: user.role };
}

export interface FilesRoutesOptions {
  files: FileService;
  /** Answers `?dry_run=true`; without it a dry run is refused. */
  uploadPreviewer?: UploadPreviewer;
  /** Checks that an import schema named on an upload is the caller's (404 otherwise). */
  checkSchema?: (ownerId: string, schemaId: string) => Promise<void>;
  maxUploadBytes: number;
  maxFilesPerRequest: number;
}

export async function filesRoutes(app: App, options: FilesRoutesOptions): Promise<void> {
  const service = options.files;
  const tags = ['files'];
  const security = AUTH_SECURITY;

  app.post(
    '/files',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Upload one or more files (multipart/form-data, parts named "files").',
        description:
          'Each part is streamed to storage while its SHA-256 and size are computed. The declared type must be ' +
          'allowed and agree with the bytes (415 otherwise); one bad file fails the whole request and stores nothing. ' +
          'A file whose bytes you already have is not stored again: its item is the existing file with `duplicate_of` ' +
          'set (200 when every file was a duplicate), unless `allow_duplicate=true`. An upload the account quota ' +
          'cannot hold answers 413 `quota_exceeded` and stores nothing. With `dry_run=true` the one file is checked ' +
          'and read the same way, then answered as a preview (200, the body of POST /files/{id}/preview) and dropped: ' +
          'no file, blob, job or quota is touched.',
        consumes: ['multipart/form-data'],
        querystring: UploadQuery,
        response: {
          200: Type.Union([Type.Object({ items: Type.Array(StoredFileResponse) }), PreviewResponse]),
          201: Type.Object({ items: Type.Array(StoredFileResponse) }),
        },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart())
        throw ERRORS.unsupportedMediaType('Send files as multipart/form-data with parts named "files".');
      const abort = new AbortController();
      request.raw.once('close', () => {
        if (!request.raw.complete) abort.abort(new Error('client went away'));
      });
      const upload = multipartFiles(request, {
        // One byte over the limit lets storage see, and report, that the file is too large.
        fileSize: options.maxUploadBytes + 1,
        files: options.maxFilesPerRequest + 1,
        fields: 20,
        fieldSize: 1024,
        parts: options.maxFilesPerRequest + 21,
      });
      const files: AsyncIterable<IncomingFile> = upload.files;
      const declared = Number(request.headers['content-length']);
      const importOptions = importOptionsOf(request.query);
      if (request.query.dry_run) {
        if (!options.uploadPreviewer) throw ERRORS.badRequest('Dry runs are not available here.');
        const preview = await options.uploadPreviewer
          .preview(requireUser(request).id, files, { rows: request.query.preview_rows, importOptions })
          .catch(async (error: unknown) => Promise.reject(await upload.clientFault(error)));
        return reply.code(200).send(preview);
      }
      if (importOptions?.schema_id) await options.checkSchema?.(requireUser(request).id, importOptions.schema_id);
      const stored = await service
        .upload(callerOf(request), files, {
          process: request.query.process,
          signal: abort.signal,
          allowDuplicate: request.query.allow_duplicate,
          ...(Number.isSafeInteger(declared) && declared > 0 ? { declaredBytes: declared } : {}),
          ...(importOptions ? { importOptions } : {}),
        })
        .catch(async (error: unknown) => Promise.reject(await upload.clientFault(error)));
      const allDuplicates = stored.every((entry) => entry.duplicateOf);
      return reply.code(allDuplicates ? 200 : 201).send({ items: stored.map(toStoredFileResponse) });
    },
  );

  app.get(
    '/files',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: "The caller's files, newest first by default.",
        querystring: ListQuery,
        response: {
          200: PageOf(FileResponse),
        },
      },
    },
    async (request) => {
      const query = request.query;
      const { items, total } = await service.list(callerOf(request), {
        limit: query.limit,
        offset: query.offset,
        sort: query.sort,
        order: query.order,
        ...(query.status ? { status: query.status } : {}),
        ...(query.content_type ? { contentType: query.content_type } : {}),
        ...(query.filename ? { filename: query.filename } : {}),
        ...(query.owner_id ? { ownerId: query.owner_id } : {}),
      });
      return { items: items.map(toFileResponse), total, limit: query.limit, offset: query.offset };
    },
  );

  app.get(
    '/files/:id',
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: "A file's metadata.", params: FileParams, response: { 200: FileResponse } },
    },
    async (request) => toFileResponse(await service.get(callerOf(request), request.params.id)),
  );

  app.get(
    '/files/:id/content',
    {
      preHandler: app.authenticate,
      // Compressing would break byte ranges and the declared length; uploads are mostly compressed already.
      compress: false,
      schema: {
        tags,
        security,
        summary: "Streams the file's bytes; supports Range (206/416) and If-None-Match (304).",
        params: FileParams,
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const file = await service.get(caller, request.params.id);
      const etag = `"${file.sha256 ?? file.id}"`;
      reply.header('ETag', etag).header('Accept-Ranges', 'bytes').header('Cache-Control', 'private, no-cache');
      if (request.headers['if-none-match'] === etag) return reply.code(304).send();

      // If-Range with a stale validator means "send it all".
      const ifRange = request.headers['if-range'];
      const rangeHeader = ifRange && ifRange !== etag ? undefined : request.headers.range;
      const { content } = await service.download(caller, file.id, parseRangeHeader(rangeHeader));
      reply
        .header('Content-Type', file.contentType)
        .header('Content-Disposition', attachmentDisposition(file.filename))
        .header('X-Content-Type-Options', 'nosniff');
      return sendBlob(reply, content);
    },
  );

  app.get(
    '/files/:id/thumbnail',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The thumbnail of a processed image (WebP, at most 256 px on its longest side).',
        params: FileParams,
      },
    },
    async (request, reply) => {
      const content = await service.thumbnail(callerOf(request), request.params.id);
      return reply
        .header('Content-Type', content.contentType)
        .header('Content-Length', String(content.totalBytes))
        .header('Cache-Control', 'private, max-age=3600')
        .send(content.stream);
    },
  );

  app.post(
    '/files/:id/link',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'A time-limited URL that downloads the file without credentials.',
        params: FileParams,
        body: LinkBody,
        response: { 200: LinkResponse },
      },
    },
    async (request) => {
      const link = await service.createLink(callerOf(request), request.params.id, request.body.expires_in);
      return { url: link.url, expires_at: link.expiresAt.toISOString() };
    },
  );

  app.post(
    '/uploads',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Starts a direct-to-storage upload of a large file.',
        description:
          'Answers a signed URL; PUT the bytes there with the given headers, then call POST /files/{id}/complete, ' +
          'which verifies size, type and (if given) the SHA-256 before the file counts as uploaded.',
        body: DirectUploadBody,
        response: { 201: DirectUploadResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const { file, upload } = await service.startDirectUpload(callerOf(request), {
        filename: body.filename,
        contentType: body.content_type,
        sizeBytes: body.size_bytes,
        ...(body.sha256 ? { sha256: body.sha256 } : {}),
      });
      return reply.code(201).send({
        file_id: file.id,
        upload_url: upload.url,
        method: upload.method,
        headers: upload.headers,
        expires_at: upload.expiresAt.toISOString(),
      });
    },
  );

  app.post(
    '/files/:id/complete',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'Verifies a direct upload and makes it count.',
        description:
          'When you already have a file with the same SHA-256 the upload is dropped and the answer is that file, ' +
          'with `duplicate_of` set, unless `allow_duplicate=true`.',
        params: FileParams,
        querystring: UploadQuery,
        response: { 200: StoredFileResponse },
      },
    },
    async (request) =>
      toStoredFileResponse(
        await service.completeDirectUpload(callerOf(request), request.params.id, {
          process: request.query.process,
          allowDuplicate: request.query.allow_duplicate,
        }),
      ),
  );

  app.post(
    '/files/:id/process',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: '(Re)processes a file: parses its rows or reads its metadata in the background.',
        description:
          'Rows already stored are kept and never duplicated: a re-run stores only what is missing. ' +
          '`encoding`, `sheets` and `schema` change how the file is read from now on.',
        params: FileParams,
        querystring: ProcessQuery,
        response: { 202: ProcessResponse },
      },
    },
    async (request, reply) => {
      const importOptions = importOptionsOf(request.query);
      if (importOptions?.schema_id) await options.checkSchema?.(requireUser(request).id, importOptions.schema_id);
      const { jobId } = await service.process(callerOf(request), request.params.id, importOptions);
      const statusUrl = `${API_PREFIX}/jobs/${jobId}`;
      return reply.code(202).header('Location', statusUrl).send({ job_id: jobId!, status_url: statusUrl });
    },
  );

  app.delete(
    '/files/:id',
    {
      preHandler: app.authenticate,
      schema: { tags, security, summary: 'Deletes the file, its blob and everything derived from it.', params: FileParams },
    },
    async (request, reply) => {
      await service.delete(callerOf(request), request.params.id);
      return reply.code(204).send();
    },
  );
}
