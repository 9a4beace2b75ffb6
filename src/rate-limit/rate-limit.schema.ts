import { bigint, index, integer, pgTable, text } from 'drizzle-orm/pg-core';

/** Fixed-window counters (embedded mode; Redis holds them when configured). */
export const rateLimitCounters = pgTable(
  'rate_limit_counters',
  {
    key: text('key').primaryKey(),
    count: integer('count').notNull(),
    /** End of the current window, epoch milliseconds from the service's clock. */
    resetAtMs: bigint('reset_at_ms', { mode: 'number' }).notNull(),
  },
  (table) => [index('rate_limit_counters_reset_idx').on(table.resetAtMs)],
);
