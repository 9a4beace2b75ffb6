import { index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { ImportSchemaDefinition } from '../processing/import-schema.ts';
import { ownerIdColumn } from '../users/user.schema.ts';

/** Import schemas: what an account expects its uploaded tables to hold (columns, rules, aliases). */
export const importSchemas = pgTable(
  'import_schemas',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    ownerId: ownerIdColumn(),
    name: text('name').notNull(),
    /** Columns and rules, validated against the API schema before it is stored. */
    definition: jsonb('definition').$type<ImportSchemaDefinition>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('import_schemas_owner_created_idx').on(table.ownerId, table.createdAt)],
);

export type ImportSchemaRow = typeof importSchemas.$inferSelect;
