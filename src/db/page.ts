import { count, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
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
 */
export async function selectPage<Table extends PgTable>(
  db: Db,
  table: Table,
  where: SQL | undefined,
  orderBy: readonly SQL[],
  page: PageRequest,
): Promise<Page<Table['$inferSelect']>> {
  const [items, totals] = await Promise.all([
    db
      .select()
      .from(table as PgTable)
      .where(where)
      .orderBy(...orderBy)
      .limit(page.limit)
      .offset(page.offset),
    db
      .select({ total: count() })
      .from(table as PgTable)
      .where(where),
  ]);
  return { items: items as Table['$inferSelect'][], total: totals[0]?.total ?? 0, limit: page.limit, offset: page.offset };
}
