import { expect } from 'vitest';
import type { App } from '../../src/http/app-types.ts';
import { randomBytes } from 'node:crypto';

export interface PartSpec {
  field?: string;
  filename: string;
  contentType: string;
  content: Buffer | string;
}

/** A multipart/form-data body, built by hand so tests control every byte and header. */
export function multipartBody(parts: PartSpec[]): { body: Buffer; contentType: string } {
  const boundary = `----intake-test-${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\n` +
          `Content-Disposition: form-data; name="${part.field ?? 'files'}"; filename="${part.filename}"\r\n` +
          `Content-Type: ${part.contentType}\r\n\r\n`,
      ),
      Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export const CSV_SAMPLE = 'name,age\nada,36\ngrace,45\n';

/** The smallest well-formed PNG header, enough for magic-byte checks. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);

/**
 * Suites that are not about deduplication upload the same sample bytes many times for one user:
 * they ask to keep duplicates unless their query says otherwise.
 */
export function allowingDuplicates(query: string): string {
  if (query.includes('allow_duplicate')) return query;
  return query ? `${query}&allow_duplicate=true` : '?allow_duplicate=true';
}

/** `POST /api/v1/files` with the given parts, as `user` (duplicates kept unless `query` says otherwise). */
export function postFiles(app: App, user: { bearer: { authorization: string } }, parts: PartSpec[], query = '') {
  const { body, contentType } = multipartBody(parts);
  return app.inject({
    method: 'POST',
    url: `/api/v1/files${allowingDuplicates(query)}`,
    headers: { ...user.bearer, 'content-type': contentType },
    payload: body,
  });
}

/** Uploads one file, expects 201, and answers the stored file with its processing job. */
export async function uploadOne(
  app: App,
  user: { bearer: { authorization: string } },
  part: PartSpec,
): Promise<{ id: string; job_id: string; status: string }> {
  const response = await postFiles(app, user, [part]);
  expect(response.statusCode, response.body).toBe(201);
  return response.json().items[0];
}
