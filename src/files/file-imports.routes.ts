import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { BoundedInteger, Id, Text } from '../http/schema-types.ts';
import type { ProcessingLimits } from '../processing/index.ts';
import type { ImportSchemaService } from '../schemas/import-schema.service.ts';
import { suggestSchema } from '../schemas/import-schema.service.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { ERRORS } from '../errors/catalog.ts';
import { problemsKey } from './correction-file.ts';
import type { FileImportOptions } from './file.schema.ts';
import type { FileService } from './file.service.ts';
import { previewFile } from './file-preview.ts';
import { PreviewResponse } from './file-preview.schema.ts';
import { attachmentDisposition } from './filename.ts';
import type { ColumnProfile } from '../processing/index.ts';

const FileParams = Type.Object({ id: Id() });

const PreviewQuery = Type.Object({
  rows: BoundedInteger({ minimum: 1, maximum: 200, default: 20, description: 'How many rows to answer.' }),
  encoding: Type.Optional(Text({ minLength: 1, maxLength: 40 })),
  sheets: Type.Optional(Text({ minLength: 1, maxLength: 2000, description: 'XLSX: sheets to read, comma-separated.' })),
  schema: Type.Optional(Id({ description: 'An import schema of yours to map and check the rows with.' })),
});

export interface FileImportsRoutesOptions {
  files: FileService;
  schemas: ImportSchemaService;
  blobs: BlobStore;
  limits: Readonly<ProcessingLimits>;
}

/** Preview, schema suggestion and the correction file: reading a tabular file before and after it is imported. */
export async function fileImportsRoutes(app: App, options: FileImportsRoutesOptions): Promise<void> {
  const { files, schemas, blobs, limits } = options;
  const tags = ['files'];
  const security = AUTH_SECURITY;

  app.post(
    '/files/:id/preview',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The first rows of a tabular file as they would be stored, with the detected encoding, dialect and types.',
        description:
          'Writes nothing. CSV, JSON and NDJSON are read from their first 256 KiB only, so the answer costs the same for any size; ' +
          'a workbook is read whole (its index is at its end).',
        params: FileParams,
        querystring: PreviewQuery,
        response: { 200: PreviewResponse },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const file = await files.get({ id: user.id, role: user.role }, request.params.id);
      const query = request.query;
      const importOptions: FileImportOptions = {
        ...(file.importOptions ?? {}),
        ...(query.encoding === undefined ? {} : { encoding: query.encoding }),
        ...(query.sheets === undefined ? {} : { sheets: query.sheets.split(',').map((name) => name.trim()) }),
        ...(query.schema === undefined ? {} : { schema_id: query.schema }),
      };
      const schema = importOptions.schema_id ? (await schemas.get(file.ownerId, importOptions.schema_id)).definition : undefined;
      return previewFile(blobs, file, { rows: query.rows, limits, importOptions, ...(schema ? { schema } : {}) });
    },
  );

  app.post(
    '/files/:id/schema-suggestion',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'An import schema suggested from a processed file’s inferred columns (not saved; POST it to /schemas).',
        params: FileParams,
        response: {
          200: Type.Object({
            name: Type.String(),
            columns: Type.Array(Type.Object({ name: Type.String(), type: Type.String(), required: Type.Boolean() })),
            unknown_columns: Type.String(),
            all_or_nothing: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const file = await files.get({ id: user.id, role: user.role }, request.params.id);
      const columns = file.metadata?.column_types as ColumnProfile[] | undefined;
      if (!Array.isArray(columns)) throw ERRORS.conflict('The file has no inferred columns yet: process it first (CSV or XLSX).');
      const suggestion = suggestSchema(columns);
      return { name: file.filename.replace(/\.[^.]*$/, '') || 'schema', ...suggestion } as {
        name: string;
        columns: { name: string; type: string; required: boolean }[];
        unknown_columns: string;
        all_or_nothing: boolean;
      };
    },
  );

  app.get(
    '/files/:id/problems.csv',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary:
          'The rows the last run left out, as uploaded, with `_row` and `_problems` columns: fix them and upload this file alone.',
        params: FileParams,
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      const file = await files.get({ id: user.id, role: user.role }, request.params.id);
      if (!(await blobs.head(problemsKey(file)))) throw ERRORS.notFound('This file has no rejected rows.');
      const content = await blobs.get(problemsKey(file));
      const base = file.filename.replace(/\.[^.]*$/, '') || 'file';
      return reply
        .header('Content-Type', 'text/csv; charset=utf-8')
        .header('Content-Disposition', attachmentDisposition(`${base}-problems.csv`))
        .header('Cache-Control', 'no-store')
        .send(content.stream);
    },
  );
}
