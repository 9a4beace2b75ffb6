import { and, count, desc, eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { ERRORS } from '../errors/catalog.ts';
import type { ColumnProfile, ImportSchemaDefinition } from '../processing/index.ts';
import { normaliseHeader } from '../processing/index.ts';
import { importSchemas, type ImportSchemaRow } from './import-schema.schema.ts';

/**
 * Import schemas belong to one account: every read and write is scoped by owner, so another
 * account's schema answers exactly like a missing one (404).
 */
export class ImportSchemaService {
  constructor(private readonly db: Db) {}

  async create(ownerId: string, input: { name: string; definition: ImportSchemaDefinition }): Promise<ImportSchemaRow> {
    checkDefinition(input.definition);
    const [row] = await this.db
      .insert(importSchemas)
      .values({ ownerId, name: input.name, definition: input.definition })
      .returning();
    return row!;
  }

  async list(ownerId: string, page: { limit: number; offset: number }): Promise<{ items: ImportSchemaRow[]; total: number }> {
    const [items, [total]] = await Promise.all([
      this.db
        .select()
        .from(importSchemas)
        .where(eq(importSchemas.ownerId, ownerId))
        .orderBy(desc(importSchemas.createdAt), desc(importSchemas.id))
        .limit(page.limit)
        .offset(page.offset),
      this.db.select({ value: count() }).from(importSchemas).where(eq(importSchemas.ownerId, ownerId)),
    ]);
    return { items, total: total?.value ?? 0 };
  }

  async get(ownerId: string, id: string): Promise<ImportSchemaRow> {
    const [row] = await this.db
      .select()
      .from(importSchemas)
      .where(and(eq(importSchemas.id, id), eq(importSchemas.ownerId, ownerId)))
      .limit(1);
    if (!row) throw ERRORS.notFound('No such import schema.');
    return row;
  }

  async update(
    ownerId: string,
    id: string,
    changes: { name?: string; definition?: ImportSchemaDefinition },
  ): Promise<ImportSchemaRow> {
    if (changes.definition) checkDefinition(changes.definition);
    const [row] = await this.db
      .update(importSchemas)
      .set({ ...changes, updatedAt: new Date() })
      .where(and(eq(importSchemas.id, id), eq(importSchemas.ownerId, ownerId)))
      .returning();
    if (!row) throw ERRORS.notFound('No such import schema.');
    return row;
  }

  async delete(ownerId: string, id: string): Promise<void> {
    const deleted = await this.db
      .delete(importSchemas)
      .where(and(eq(importSchemas.id, id), eq(importSchemas.ownerId, ownerId)))
      .returning({ id: importSchemas.id });
    if (deleted.length === 0) throw ERRORS.notFound('No such import schema.');
  }
}

/** The definition a processing job validates against, or undefined when it is gone (or never the owner's). */
export async function findImportSchema(db: Db, ownerId: string, id: string): Promise<ImportSchemaDefinition | undefined> {
  const [row] = await db
    .select({ definition: importSchemas.definition })
    .from(importSchemas)
    .where(and(eq(importSchemas.id, id), eq(importSchemas.ownerId, ownerId)))
    .limit(1);
  return row?.definition;
}

/** A schema suggested from a processed file's inferred columns: its types, with the empty ones optional. */
export function suggestSchema(columns: readonly ColumnProfile[]): ImportSchemaDefinition {
  return {
    columns: columns.map((column) => ({ name: column.name, type: column.type, required: !column.nullable })),
    unknown_columns: 'keep',
    all_or_nothing: false,
  };
}

/** What the API schema cannot say: names and aliases distinct once normalised, patterns that compile. */
function checkDefinition(definition: ImportSchemaDefinition): void {
  const spellings = new Map<string, string>();
  for (const column of definition.columns) {
    for (const spelling of [column.name, ...(column.aliases ?? [])]) {
      const key = normaliseHeader(spelling);
      if (key === '')
        throw ERRORS.validation([
          { path: '/columns', message: `${JSON.stringify(spelling)} has no letter or digit to match a header by.` },
        ]);
      const owner = spellings.get(key);
      if (owner !== undefined && owner !== column.name) {
        throw ERRORS.validation([
          {
            path: '/columns',
            message: `${JSON.stringify(spelling)} names both ${JSON.stringify(owner)} and ${JSON.stringify(column.name)}.`,
          },
        ]);
      }
      spellings.set(key, column.name);
    }
    if (column.pattern !== undefined) {
      try {
        new RegExp(column.pattern, 'u');
      } catch {
        throw ERRORS.validation([
          { path: '/columns', message: `The pattern of ${JSON.stringify(column.name)} is not a valid regular expression.` },
        ]);
      }
    }
  }
}
