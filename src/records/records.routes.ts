import { Type } from 'typebox';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { FileService } from '../files/file.service.ts';
import type { App } from '../http/app-types.ts';
import { BoundedInteger, Id, Text } from '../http/schema-types.ts';
import { exportRecords, type ExportFormat } from './record-export.ts';
import type { RecordService } from './record.service.ts';

const FileParams = Type.Object({ id: Id() });

const FILTER_PARAMETER = '^filter\\[.{1,200}\\]$';

const RecordsQuery = Type.Object(
  {
    limit: BoundedInteger({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Text({ maxLength: 2048, description: 'next_cursor from the previous page.' })),
    sort: Type.Optional(
      Text({
        minLength: 1,
        maxLength: 201,
        description: 'A field of the records to sort on (as text); `-field` sorts it descending. Default: row order.',
      }),
    ),
    order: Type.Union([Type.Literal('asc'), Type.Literal('desc')], { default: 'asc' }),
  },
  {
    // `filter[field]=value`: equality on a top-level field, compared as text.
    patternProperties: { [FILTER_PARAMETER]: Text({ maxLength: 1000 }) },
  },
);

const RecordsPage = Type.Object({
  items: Type.Array(Type.Object({ row: Type.Integer(), data: Type.Record(Type.String(), Type.Unknown()) })),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

const ExportQuery = Type.Object({
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'csv' }),
});

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

/** `filter[field]=value` pairs, read from the raw query so any field name works. */
function filtersOf(url: string): Record<string, string> {
  const filters: Record<string, string> = {};
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  for (const [key, value] of new URLSearchParams(query)) {
    const match = /^filter\[(.+)\]$/.exec(key);
    if (match?.[1]) filters[match[1]] = value;
  }
  return filters;
}

export interface RecordsRoutesOptions {
  files: FileService;
  records: RecordService;
}

export async function recordsRoutes(app: App, options: RecordsRoutesOptions): Promise<void> {
  const { files, records } = options;
  const tags = ['records'];
  const security = AUTH_SECURITY;

  app.get(
    '/files/:id/records',
    {
      preHandler: app.authenticate,
      schema: {
        tags,
        security,
        summary: 'The parsed rows of a tabular file, a page at a time.',
        description:
          'Filter with `filter[field]=value` (equality, as text; several allowed), sort with `sort=field&order=asc|desc`, ' +
          'and follow `next_cursor` until it is null.',
        params: FileParams,
        querystring: RecordsQuery,
        response: { 200: RecordsPage },
      },
    },
    async (request) => {
      const user = requireUser(request);
      const file = await files.get({ id: user.id, role: user.role }, request.params.id);
      const query = request.query;
      // `sort=-field` is the common shorthand for a descending sort; it never names a field "-field".
      const descending = query.sort?.startsWith('-') === true;
      const sort = descending ? query.sort?.slice(1) : query.sort;
      return records.page(
        { fileId: file.id, run: file.recordsRun },
        {
          limit: query.limit,
          order: descending ? 'desc' : query.order,
          filters: filtersOf(request.url),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          ...(sort === undefined ? {} : { sort }),
        },
      );
    },
  );

  const exportRoute = (url: string, fixed: ExportFormat | undefined) =>
    app.get(
      url,
      {
        preHandler: app.authenticate,
        schema: {
          tags,
          security,
          summary: fixed ? `Every record as ${fixed.toUpperCase()}, streamed.` : 'Every record as CSV or NDJSON, streamed.',
          description: 'CSV cells that a spreadsheet would run as formulas are prefixed with an apostrophe.',
          params: FileParams,
          ...(fixed ? {} : { querystring: ExportQuery }),
        },
      },
      async (request, reply) => {
        const user = requireUser(request);
        const file = await files.get({ id: user.id, role: user.role }, request.params.id);
        const format: ExportFormat = fixed ?? (request.query as { format: ExportFormat }).format;
        const columns = Array.isArray(file.metadata?.columns) ? (file.metadata.columns as unknown[]).map(String) : [];
        const base = file.filename.replace(/\.[^.]*$/, '') || 'records';
        reply
          .header('Content-Type', CONTENT_TYPES[format])
          .header('Content-Disposition', `attachment; filename="${base.replace(/[^\x20-\x7e]|["\\]/g, '_')}.${format}"`)
          .header('Cache-Control', 'no-store');
        return reply.send(exportRecords(records.all({ fileId: file.id, run: file.recordsRun }), format, columns));
      },
    );
  exportRoute('/files/:id/records.csv', 'csv');
  exportRoute('/files/:id/records.ndjson', 'ndjson');
  exportRoute('/files/:id/records/export', undefined);
}
