import { eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { files, type FileRow } from './file.schema.ts';

/**
 * One file by id, whoever owns it, for the composition root's wiring (outcome webhooks, the
 * file e-mail): other features never query the files table themselves. `db` may be the
 * caller's transaction.
 */
export async function findFile(db: Db, id: string): Promise<FileRow | undefined> {
  const [file] = await db.select().from(files).where(eq(files.id, id)).limit(1);
  return file;
}

/** A file as webhook payloads show it (`file.uploaded`, `file.processed`, `file.failed`). */
export function fileEventData(file: FileRow): Record<string, unknown> {
  return {
    id: file.id,
    filename: file.filename,
    content_type: file.contentType,
    size_bytes: file.sizeBytes,
    sha256: file.sha256,
    status: file.status,
    created_at: file.createdAt.toISOString(),
  };
}
