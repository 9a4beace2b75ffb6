import { and, asc, desc, eq, gt, gte, lte, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import { MAX_INT32 } from '../http/schema-types.ts';
import { records } from './record.schema.ts';
import type { RowRange } from './record-sheets.ts';

export interface RecordQuery {
  limit: number;
  cursor?: string;
  /** Equality on top-level fields, compared as text (`filter[city]=Paris`). */
  filters: Record<string, string>;
  sort?: string;
  order: 'asc' | 'desc';
  /** Only rows in this range (a workbook's sheet). */
  rows?: RowRange;
}

export interface RecordPage {
  items: { row: number; data: Record<string, unknown> }[];
  next_cursor: string | null;
}

/** The position after the last item of a page: its row, and its sort value when sorted. */
interface Position {
  row: number;
  value?: string | null;
  sort?: string;
  order: 'asc' | 'desc';
}

const FIELD_NAME = /^\P{Cc}{1,200}$/u;
const MAX_FILTERS = 10;

/**
 * Which records a reader is served: the file's current complete run (`null` before any run has
 * completed, which reads as no records).
 */
export interface RecordSource {
  fileId: string;
  run: string | null;
}

/** Reads a file's records page by page with opaque keyset cursors: constant cost per page. */
export class RecordService {
  constructor(private readonly db: Db) {}

  async page(source: RecordSource, query: RecordQuery): Promise<RecordPage> {
    const filterEntries = Object.entries(query.filters);
    if (filterEntries.length > MAX_FILTERS) throw ERRORS.badRequest(`At most ${MAX_FILTERS} filters are allowed.`);
    for (const [field] of filterEntries) {
      if (!FIELD_NAME.test(field)) throw ERRORS.badRequest('A filter names a field of 1-200 printable characters.');
    }
    if (query.sort !== undefined && !FIELD_NAME.test(query.sort))
      throw ERRORS.badRequest('sort names a field of 1-200 printable characters.');

    const position = query.cursor ? decodeCursor(query.cursor) : undefined;
    if (position && (position.sort !== query.sort || position.order !== query.order)) {
      throw ERRORS.badRequest('The cursor belongs to a different sort; start again without it.');
    }
    if (source.run === null) return { items: [], next_cursor: null };
    const conditions: (SQL | undefined)[] = [eq(records.fileId, source.fileId), eq(records.run, source.run)];
    for (const [field, value] of filterEntries) conditions.push(sql`${records.data} ->> ${field} = ${value}`);
    if (query.rows) conditions.push(...inRange(query.rows));

    let rows: { row: number; data: Record<string, unknown>; value?: string | null }[];
    if (query.sort === undefined) {
      if (position)
        conditions.push(query.order === 'asc' ? gt(records.row, position.row) : sql`${records.row} < ${position.row}`);
      rows = await this.db
        .select({ row: records.row, data: records.data })
        .from(records)
        .where(and(...conditions))
        .orderBy(query.order === 'asc' ? asc(records.row) : desc(records.row))
        .limit(query.limit + 1);
    } else {
      // Missing values sort as the empty string, so every row has a place in the order.
      const value = sql<string>`coalesce(${records.data} ->> ${query.sort}, '')`;
      if (position) {
        const after = sql`(${value}, ${records.row}) ${sql.raw(query.order === 'asc' ? '>' : '<')} (${position.value ?? ''}, ${position.row})`;
        conditions.push(after);
      }
      const direction = query.order === 'asc' ? sql.raw('asc') : sql.raw('desc');
      rows = await this.db
        .select({ row: records.row, data: records.data, value })
        .from(records)
        .where(and(...conditions))
        .orderBy(sql`${value} ${direction}`, sql`${records.row} ${direction}`)
        .limit(query.limit + 1);
    }

    const hasMore = rows.length > query.limit;
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(({ row, data }) => ({ row, data })),
      next_cursor:
        hasMore && last
          ? encodeCursor({
              row: last.row,
              order: query.order,
              ...(query.sort === undefined ? {} : { sort: query.sort, value: last.value ?? '' }),
            })
          : null,
    };
  }

  /** Every record in row order, fetched in bounded batches: memory stays flat for any file size. */
  async *all(
    source: RecordSource,
    options: { rows?: RowRange; batchSize?: number } = {},
  ): AsyncGenerator<{ row: number; data: Record<string, unknown> }[]> {
    if (source.run === null) return;
    const batchSize = options.batchSize ?? 1_000;
    const range = options.rows ? inRange(options.rows) : [];
    let after = 0;
    for (;;) {
      const batch = await this.db
        .select({ row: records.row, data: records.data })
        .from(records)
        .where(and(eq(records.fileId, source.fileId), eq(records.run, source.run), gt(records.row, after), ...range))
        .orderBy(asc(records.row))
        .limit(batchSize);
      if (batch.length === 0) return;
      yield batch;
      after = batch.at(-1)!.row;
      if (batch.length < batchSize) return;
    }
  }
}

function inRange(range: RowRange): SQL[] {
  return [gte(records.row, range.first), lte(records.row, range.last)];
}

/**
 * A cursor comes back from the client: every member is checked as strictly as a query
 * parameter, so a forged one is a 400 and never a value the `integer` row column cannot hold.
 */
function isPosition(value: unknown): value is Position {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { row, order, sort, value: sortValue } = value as Record<string, unknown>;
  if (typeof row !== 'number' || !Number.isInteger(row) || row < 0 || row > MAX_INT32) return false;
  if (order !== 'asc' && order !== 'desc') return false;
  if (sort !== undefined && (typeof sort !== 'string' || !FIELD_NAME.test(sort))) return false;
  // The value was read from a stored row, which can hold any character but NUL.
  if (sortValue !== undefined && sortValue !== null && (typeof sortValue !== 'string' || sortValue.includes('\u0000')))
    return false;
  return true;
}

function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

function decodeCursor(cursor: string): Position {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!isPosition(parsed)) throw new Error('bad cursor');
    return parsed;
  } catch {
    throw ERRORS.badRequest('The cursor is not valid; use next_cursor from a previous page.');
  }
}
