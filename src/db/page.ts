import { count, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './database.ts';

export interface PageRequest {
  limit: number;
  offset: number;
}

/** One page of a listing and the size of the whole listing, as every list endpoint answers it. */
export interface Page<T> extends PageRequest {
  items: T[];
  total: number;
}

/**
 * The rows of `table` that match `where`, in `orderBy` order, one page of them, with the count of all
 * that match. Every listing orders by a unique column last so that pages never overlap or skip.
 *
 * One statement: the count is a scalar subquery evaluated once beside the page (the same plans as two
 * statements, one round trip instead of two). A page past the end has no row to carry the count, so
 * it alone asks for the count by itself.
 */
export async function selectPage<Table extends PgTable>(
  db: Db,
  table: Table,
  where: SQL | undefined,
  orderBy: readonly SQL[],
  page: PageRequest,
): Promise<Page<Table['$inferSelect']>> {
  const { rows, total } = pageQueries(db, table, where, orderBy, page.limit, page.offset);
  return pageOf<Table['$inferSelect']>(await rows, page, async () => (await total)[0]?.total ?? 0);
}

/** Values for the placeholders of a prepared page: the filter's own, and `limit`/`offset`. */
export type PageParameters = Record<string, unknown>;

/**
 * `selectPage` as a prepared statement, for a listing asked for on every page view: the query is
 * built once (drizzle's query building was a tenth of the CPU of a page of files) and PostgreSQL
 * parses and plans it once per connection. `where` holds `sql.placeholder`s for its values; the
 * page's bounds are the placeholders `limit` and `offset`. `name` must be unique to the statement.
 * `columns` are the ones the listing shows (`Item` is their row): every column read is decoded and
 * mapped for every row of every page.
 */
export function preparedPage<Item>(
  db: Db,
  table: PgTable,
  columns: Record<string, PgColumn>,
  where: SQL | undefined,
  orderBy: readonly SQL[],
  name: string,
): (parameters: PageParameters, page: PageRequest) => Promise<Page<Item>> {
  const { rows, total } = pageQueries(db, table, where, orderBy, sql.placeholder('limit'), sql.placeholder('offset'), columns);
  const rowsStatement = rows.prepare(name);
  const totalStatement = total.prepare(`${name}_total`);
  return async (parameters, page) => {
    const found = await rowsStatement.execute({ ...parameters, limit: page.limit, offset: page.offset });
    return pageOf<Item>(found, page, async () => (await totalStatement.execute(parameters))[0]?.total ?? 0);
  };
}

function pageQueries(
  db: Db,
  table: PgTable,
  where: SQL | undefined,
  orderBy: readonly SQL[],
  limit: number | ReturnType<typeof sql.placeholder>,
  offset: number | ReturnType<typeof sql.placeholder>,
  columns: PgTable | Record<string, PgColumn> = table,
) {
  const total = db.select({ total: count() }).from(table).where(where);
  const rows = db
    .select({ row: columns, total: sql<number>`${total}`.mapWith(Number) })
    .from(table)
    .where(where)
    .orderBy(...orderBy)
    .limit(limit as number)
    .offset(offset as number);
  return { rows, total };
}

async function pageOf<T>(
  rows: readonly { row: unknown; total: number }[],
  page: PageRequest,
  countAll: () => Promise<number>,
): Promise<Page<T>> {
  const first = rows[0];
  const total = first ? first.total : page.offset > 0 ? await countAll() : 0;
  return { items: rows.map((entry) => entry.row as T), total, limit: page.limit, offset: page.offset };
}
