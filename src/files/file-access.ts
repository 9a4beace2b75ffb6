import { and, asc, desc, eq, ilike, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { selectPage } from '../db/page.ts';
import { isUuid } from '../db/uuid.ts';
import { ERRORS } from '../errors/catalog.ts';
import { supportedContentType } from '../processing/content-types.ts';
import { files, type FileRow } from './file.schema.ts';
import type { Caller, ListFilesQuery } from './file-ports.ts';

/** Finding and listing the files a caller may see: their own, or anyone's for an admin. */
export class FileAccess {
  constructor(private readonly db: Db) {}

  /** Someone else's file answers exactly like a missing one. */
  async get(caller: Caller, id: string): Promise<FileRow> {
    const [row] = await this.db.select().from(files).where(visibleTo(caller, id)).limit(1);
    if (!row) throw ERRORS.notFound('No such file.');
    return row;
  }

  async list(caller: Caller, query: ListFilesQuery): Promise<{ items: FileRow[]; total: number }> {
    const ownerId = caller.role === 'admin' && query.ownerId ? query.ownerId : caller.id;
    const conditions: SQL[] = [eq(files.ownerId, ownerId)];
    if (query.status) conditions.push(eq(files.status, query.status));
    if (query.contentType)
      conditions.push(eq(files.contentType, supportedContentType(query.contentType)?.mime ?? query.contentType));
    if (query.filename) conditions.push(ilike(files.filename, `%${escapeLike(query.filename)}%`));
    const column = query.sort === 'filename' ? files.filename : files.createdAt;
    const direction = query.order === 'asc' ? asc : desc;
    return selectPage(this.db, files, and(...conditions), [direction(column), direction(files.id)], query);
  }
}

function visibleTo(caller: Caller, id: string): SQL | undefined {
  if (!isUuid(id)) return eq(files.id, '00000000-0000-0000-0000-000000000000');
  return caller.role === 'admin' ? eq(files.id, id) : and(eq(files.id, id), eq(files.ownerId, caller.id));
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
