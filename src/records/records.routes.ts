import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { FileService } from '../files/file.service.ts';
import type { App } from '../http/app-types.ts';
import { BoundedInteger, Id, Text } from '../http/schema-types.ts';
import { exportRecords, type ExportFormat } from './record-export.ts';
import type { RecordService } from './record.service.ts';
import { SheetLayout } from './record-sheets.ts';

const FileParams = Type.Object({ id: Id() });

const FILTER_PARAMETER = '^filter\\[.{1,200}\\]$';

const SheetParameter = Text({
  minLength: 1,
  maxLength: 200,
  description: 'Workbooks: only the records of the sheet with this name.',
});

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
    sheet: Type.Optional(SheetParameter),
  },
  {
    // `filter[field]=value`: equality on a top-level field, compared as text.
    patternProperties: { [FILTER_PARAMETER]: Text({ maxLength: 1000 }) },
  },
);

const RecordsPage = Type.Object({
  items: Type.Array(
    Type.Object({
      row: Type.Integer({ description: 'The stored row number (for a workbook: sheet index × 1,048,576 + sheet_row).' }),
      sheet: Type.Optional(Type.String({ description: 'Workbooks: the name of the record’s sheet.' })),
      sheet_row: Type.Optional(Type.Integer({ description: 'Workbooks: the data row within its sheet (1-based).' })),
      data: Type.Record(Type.String(), Type.Unknown()),
    }),
  ),
  next_cursor: Type.Union([Type.String(), Type.Null()]),
});

const ExportQuery = Type.Object({
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson')], { default: 'csv' }),
  sheet: Type.Optional(SheetParameter),
});
const FixedExportQuery = Type.Object({ sheet: Type.Optional(SheetParameter) });

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

/**
 * The CSV export's columns: those of the named sheet, or for a whole workbook every sheet's in
 * order of appearance (sheets rarely share one header), or the file's own.
 */
function exportColumns(metadata: Record<string, unknown> | null | undefined, sheet: string | undefined): string[] {
  const names = (value: unknown) => (Array.isArray(value) ? value.map(String) : []);
  const sheets = Array.isArray(metadata?.sheets) ? (metadata.sheets as { name?: unknown; columns?: unknown }[]) : [];
  if (sheets.length === 0) return names(metadata?.columns);
  const chosen = sheet === undefined ? sheets : sheets.filter((entry) => entry.name === sheet);
  return [...new Set(chosen.flatMap((entry) => names(entry.columns)))];
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
          'Filter with `filter[field]=value` (equality, as text; several allowed) and, for a workbook, `sheet=<name>`; ' +
          'sort with `sort=field&order=asc|desc`, and follow `next_cursor` until it is null. A workbook’s records carry ' +
          '`sheet` and `sheet_row`.',
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
      const sheets = new SheetLayout(file.metadata);
      const page = await records.page(
        { fileId: file.id, run: file.recordsRun },
        {
          limit: query.limit,
          order: descending ? 'desc' : query.order,
          filters: filtersOf(request.url),
          ...(query.cursor ? { cursor: query.cursor } : {}),
          ...(sort === undefined ? {} : { sort }),
          ...(query.sheet === undefined ? {} : { rows: sheets.range(query.sheet) }),
        },
      );
      return { ...page, items: page.items.map((item) => sheets.withPlace(item)) };
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
          description:
            'CSV cells that a spreadsheet would run as formulas are prefixed with an apostrophe. For a workbook, `sheet=<name>` ' +
            'exports one sheet, and every record carries `sheet` and `sheet_row` after `row`.',
          params: FileParams,
          querystring: fixed ? FixedExportQuery : ExportQuery,
        },
      },
      async (request, reply) => {
        const user = requireUser(request);
        const file = await files.get({ id: user.id, role: user.role }, request.params.id);
        const query = request.query as { format?: ExportFormat; sheet?: string };
        const format: ExportFormat = fixed ?? query.format ?? 'csv';
        const sheets = new SheetLayout(file.metadata);
        const rows = query.sheet === undefined ? undefined : sheets.range(query.sheet);
        const columns = exportColumns(file.metadata, query.sheet);
        const base = file.filename.replace(/\.[^.]*$/, '') || 'records';
        reply
          .header('Content-Type', CONTENT_TYPES[format])
          .header('Content-Disposition', `attachment; filename="${base.replace(/[^\x20-\x7e]|["\\]/g, '_')}.${format}"`)
          .header('Cache-Control', 'no-store');
        const batches = records.all({ fileId: file.id, run: file.recordsRun }, rows ? { rows } : {});
        return reply.send(exportRecords(batches, format, columns, sheets));
      },
    );
  exportRoute('/files/:id/records.csv', 'csv');
  exportRoute('/files/:id/records.ndjson', 'ndjson');
  exportRoute('/files/:id/records/export', undefined);
}
