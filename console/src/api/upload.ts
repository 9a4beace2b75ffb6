import { csrfToken, refreshSession, type Problem } from './client';
import type { paths } from './schema';

export type StoredFile = paths['/api/v1/files']['post']['responses'][201]['content']['application/json']['items'][number];

export interface UploadCallbacks {
  /** Bytes of the request body sent so far, and its total. */
  onProgress(sent: number, total: number): void;
  /** An import schema every row is checked against. */
  schemaId?: string;
}

export type UploadOutcome =
  { ok: true; file: StoredFile } | { ok: false; status: number; problem: Problem; retryAfter: string | null };

/**
 * POST /api/v1/files with one file. XMLHttpRequest rather than the generated client: fetch reports
 * no upload progress. The browser streams the File from disk as the multipart body, so a large file
 * is never read into memory. The request and answer are typed from the same generated schema.
 */
export async function uploadFile(file: File, callbacks: UploadCallbacks): Promise<UploadOutcome> {
  const first = await send(file, callbacks);
  if (first.ok || first.status !== 401) return first;
  if (!(await refreshSession())) return first;
  return send(file, callbacks);
}

function send(file: File, callbacks: UploadCallbacks): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open('POST', callbacks.schemaId ? `/api/v1/files?schema=${encodeURIComponent(callbacks.schemaId)}` : '/api/v1/files');
    request.withCredentials = true;
    request.responseType = 'json';
    const token = csrfToken();
    if (token) request.setRequestHeader('X-CSRF-Token', token);
    request.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) callbacks.onProgress(event.loaded, event.total);
    });
    request.addEventListener('load', () => {
      const body = request.response as unknown;
      if (request.status === 201) {
        const items = (body as { items: StoredFile[] }).items;
        const stored = items[0];
        if (stored) {
          resolve({ ok: true, file: stored });
          return;
        }
      }
      resolve({
        ok: false,
        status: request.status,
        problem: (body ?? {}) as Problem,
        retryAfter: request.getResponseHeader('Retry-After'),
      });
    });
    const failed = (message: string) => () => resolve({ ok: false, status: 0, problem: { detail: message }, retryAfter: null });
    request.addEventListener('error', failed('The connection failed while sending the file.'));
    request.addEventListener('abort', failed('The upload was cancelled.'));
    const body = new FormData();
    body.append('files', file, file.name);
    request.send(body);
  });
}
