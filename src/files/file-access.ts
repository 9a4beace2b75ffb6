import { and, asc, desc, eq, ilike, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { preparedPage, type Page, type PageParameters, type PageRequest } from '../db/page.ts';
import { isUuid } from '../db/uuid.ts';
import { ERRORS } from '../errors/catalog.ts';
import { supportedContentType } from '../processing/content-types.ts';
import { FILE_LIST_COLUMNS, files, type FileListItem, type FileRow } from './file.schema.ts';
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

  async list(caller: Caller, query: ListFilesQuery): Promise<{ items: FileListItem[]; total: number }> {
    const ownerId = caller.role === 'admin' && query.ownerId ? query.ownerId : caller.id;
    const contentType = query.contentType ? (supportedContentType(query.contentType)?.mime ?? query.contentType) : undefined;
    const filename = query.filename ? `%${escapeLike(query.filename)}%` : undefined;
    const shape: ListShape = {
      status: query.status !== undefined,
      contentType: contentType !== undefined,
      filename: filename !== undefined,
      sort: query.sort === 'filename' ? 'filename' : 'created_at',
      order: query.order === 'asc' ? 'asc' : 'desc',
    };
    return this.listing(shape)({ ownerId, status: query.status, contentType, filename }, query);
  }

  /** One prepared statement per combination of filters and order (at most 32), built when first asked for. */
  private readonly listings = new Map<string, (parameters: PageParameters, page: PageRequest) => Promise<Page<FileListItem>>>();

  private listing(shape: ListShape) {
    const key = `${shape.status ? 's' : ''}${shape.contentType ? 'c' : ''}${shape.filename ? 'f' : ''}_${shape.sort}_${shape.order}`;
    let listing = this.listings.get(key);
    if (!listing) {
      const conditions: SQL[] = [eq(files.ownerId, sql.placeholder('ownerId'))];
      if (shape.status) conditions.push(eq(files.status, sql.placeholder('status')));
      if (shape.contentType) conditions.push(eq(files.contentType, sql.placeholder('contentType')));
      if (shape.filename) conditions.push(ilike(files.filename, sql.placeholder('filename')));
      const column = shape.sort === 'filename' ? files.filename : files.createdAt;
      const direction = shape.order === 'asc' ? asc : desc;
      listing = preparedPage<FileListItem>(
        this.db,
        files,
        FILE_LIST_COLUMNS,
        and(...conditions),
        [direction(column), direction(files.id)],
        `files_page_${key}`,
      );
      this.listings.set(key, listing);
    }
    return listing;
  }
}

interface ListShape {
  status: boolean;
  contentType: boolean;
  filename: boolean;
  sort: 'created_at' | 'filename';
  order: 'asc' | 'desc';
}

function visibleTo(caller: Caller, id: string): SQL | undefined {
  if (!isUuid(id)) return eq(files.id, '00000000-0000-0000-0000-000000000000');
  return caller.role === 'admin' ? eq(files.id, id) : and(eq(files.id, id), eq(files.ownerId, caller.id));
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (character) => `\\${character}`);
}
