import { Upload, defaultOptions, type DetailedError, type HttpResponse } from 'tus-js-client';
import { api, csrfToken, refreshSession, type Problem } from './client';
import type { StoredFile, UploadCallbacks, UploadOutcome } from './upload';

/**
 * Files above this size go through tus (`/api/v1/uploads/tus`) and survive a dropped connection
 * or a page reload; smaller ones stay one multipart request, which a failure costs little to
 * repeat and which answers the stored file at once.
 */
export const RESUMABLE_UPLOAD_BYTES = 8 * 1024 * 1024;

/**
 * One PATCH per chunk: each may be taken by any API process, a cut costs at most this much, and
 * it stays under the proxy's body limit (deploy/nginx.conf).
 */
const CHUNK_BYTES = 8 * 1024 * 1024;

/** Retries after a dropped connection; when they run out the upload pauses for the user to resume. */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000];

const STORAGE_PREFIX = 'tus::';

/** The upload URL belongs to one account: the fingerprint names it, so another account never tries it. */
function fingerprintPrefix(accountId: string): string {
  return `intake:${accountId}:`;
}

function fingerprintOf(accountId: string, file: File): string {
  return `${fingerprintPrefix(accountId)}${[file.name, file.type, file.size, file.lastModified].join(':')}`;
}

/** What the user sees and does while a resumable upload runs. */
export interface ResumableCallbacks extends UploadCallbacks {
  onControls(controls: UploadControls): void;
  /** `reason` is null when the user paused; otherwise why the upload stopped (it can be resumed). */
  onPaused(reason: string | null): void;
  onResumed(): void;
  /** Going on after a reload or a dropped connection: the server already held this many bytes. */
  onResumedFrom(bytes: number): void;
}

export interface UploadControls {
  pause(): void;
  resume(): void;
}

export interface UnfinishedUpload {
  filename: string;
  size: number | null;
  startedAt: string;
}

/** Uploads this account began in this browser and has not finished: choosing the same file again resumes one. */
export async function unfinishedUploads(accountId: string): Promise<UnfinishedUpload[]> {
  const prefix = `${STORAGE_PREFIX}${fingerprintPrefix(accountId)}`;
  const previous = await defaultOptions.urlStorage.findAllUploads();
  return previous
    .filter((upload) => upload.urlStorageKey.startsWith(prefix))
    .map((upload) => ({ filename: upload.metadata.filename ?? 'upload', size: upload.size, startedAt: upload.creationTime }));
}

function problemOf(response: HttpResponse | null): Problem {
  try {
    return JSON.parse(response?.getBody() ?? '') as Problem;
  } catch {
    return {};
  }
}

/**
 * Uploads `file` with tus: a new upload, or the one this account began with the same file
 * before a reload (its URL is kept in localStorage until it completes). A dropped connection
 * is retried from the server's offset; when the retries run out the upload pauses, resumes
 * when the browser is back online, and can be resumed by hand.
 */
export function uploadResumably(file: File, accountId: string, callbacks: ResumableCallbacks): Promise<UploadOutcome> {
  return new Promise((resolve) => {
    let running = false;
    let pausedByUser = false;
    const resumeWhenOnline = () => {
      if (!pausedByUser) controls.resume();
    };
    const settle = (outcome: UploadOutcome) => {
      window.removeEventListener('online', resumeWhenOnline);
      resolve(outcome);
    };

    const upload = new Upload(file, {
      endpoint: `${location.origin}/api/v1/uploads/tus`,
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      metadata: { filename: file.name, content_type: file.type || 'application/octet-stream' },
      fingerprint: (source) => Promise.resolve(fingerprintOf(accountId, source)),
      removeFingerprintOnSuccess: true,
      onBeforeRequest(request) {
        const token = csrfToken();
        if (token) request.setHeader('X-CSRF-Token', token);
      },
      async onAfterResponse(request, response) {
        // The access cookie lapsed: renew it before the retry below sends the request again.
        if (response.getStatus() === 401) await refreshSession();
        // Asking for the offset means going on from bytes the server already holds.
        if (request.getMethod() === 'HEAD' && response.getStatus() === 200) {
          callbacks.onResumedFrom(Number(response.getHeader('Upload-Offset') ?? 0));
        }
      },
      onShouldRetry(error: DetailedError, attempt) {
        const status = error.originalResponse?.getStatus() ?? 0;
        if (status === 401) return attempt === 0;
        return (status < 400 || status === 409 || status === 423) && navigator.onLine;
      },
      onProgress: (sent, total) => callbacks.onProgress(sent, total),
      onSuccess: ({ lastResponse }) => {
        void completed(lastResponse).then(settle);
      },
      onError(error) {
        running = false;
        const response = 'originalResponse' in error ? error.originalResponse : null;
        const status = response?.getStatus() ?? 0;
        if (status >= 400 && status !== 409 && status !== 423 && status < 500) {
          settle({ ok: false, status, problem: problemOf(response), retryAfter: response?.getHeader('Retry-After') ?? null });
          return;
        }
        callbacks.onPaused(
          navigator.onLine
            ? 'The connection to the server was lost. Resume to go on from where it stopped.'
            : 'The browser is offline; the upload goes on when the connection is back.',
        );
      },
    });

    const controls: UploadControls = {
      pause() {
        if (!running) return;
        running = false;
        pausedByUser = true;
        void upload.abort(false);
        callbacks.onPaused(null);
      },
      resume() {
        if (running) return;
        running = true;
        pausedByUser = false;
        callbacks.onResumed();
        upload.start();
      },
    };
    window.addEventListener('online', resumeWhenOnline);
    callbacks.onControls(controls);

    void upload.findPreviousUploads().then((previous) => {
      const latest = previous.sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
      if (latest) upload.resumeFromPreviousUpload(latest);
      controls.resume();
    });
  });
}

/** The last PATCH names the file (and its processing job); the row is read back as a multipart upload answers it. */
async function completed(response: HttpResponse): Promise<UploadOutcome> {
  const fileId = response.getHeader('Intake-File-Id');
  if (!fileId) return { ok: false, status: 0, problem: { detail: 'The server did not name the stored file.' }, retryAfter: null };
  const { data, error, response: answer } = await api.GET('/api/v1/files/{id}', { params: { path: { id: fileId } } });
  if (!data) return { ok: false, status: answer.status, problem: (error ?? {}) as Problem, retryAfter: null };
  const file: StoredFile = {
    ...data,
    job_id: response.getHeader('Intake-Job-Id') ?? null,
    duplicate_of: response.getHeader('Intake-Duplicate-Of') ?? null,
  };
  return { ok: true, file };
}
