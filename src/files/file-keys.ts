import type { FileRow } from './file.schema.ts';

/** Where a file's blobs live: the original and anything derived from it share the prefix. */
export function filePrefix(ownerId: string, fileId: string): string {
  return `files/${ownerId}/${fileId}/`;
}

/**
 * Where a direct upload's bytes arrive: the write grant is for this key only, and completing
 * the upload moves the bytes to the file's own key before checking them, so a PUT after that
 * (a cloud grant cannot be revoked before it expires) can never change the checked content.
 */
export function directUploadKey(file: Pick<FileRow, 'ownerId' | 'id'>): string {
  return `${filePrefix(file.ownerId, file.id)}upload`;
}

/** Where the thumbnail of an image lives: beside the original, so deleting the file removes it. */
export function thumbnailKey(file: Pick<FileRow, 'ownerId' | 'id'>): string {
  return `${filePrefix(file.ownerId, file.id)}thumbnail.webp`;
}
