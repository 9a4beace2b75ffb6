import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, describeProblem, formatWait } from '../api/client';
import { liveEvents } from '../api/realtime';
import type { paths } from '../api/schema';
import {
  RESUMABLE_UPLOAD_BYTES,
  unfinishedUploads,
  uploadResumably,
  type UnfinishedUpload,
  type UploadControls,
} from '../api/resumable-upload';
import { uploadFile, type UploadCallbacks } from '../api/upload';
import { SchemaSelect } from '../components/imports';
import { ConfirmButton, ErrorMessage, ProgressBar, StatusBadge } from '../components/common';
import { formatBytes, formatDate } from '../format';
import { href } from '../router';
import { useSession } from '../session';

type FileList = paths['/api/v1/files']['get']['responses'][200]['content']['application/json'];
type FileItem = FileList['items'][number];
type ListQuery = NonNullable<paths['/api/v1/files']['get']['parameters']['query']>;
type FileStatus = NonNullable<ListQuery['status']>;

export const CONTENT_TYPES: { label: string; mime: string }[] = [
  { label: 'CSV', mime: 'text/csv' },
  { label: 'JSON', mime: 'application/json' },
  { label: 'NDJSON', mime: 'application/x-ndjson' },
  { label: 'XLSX', mime: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' },
  { label: 'PNG', mime: 'image/png' },
  { label: 'JPEG', mime: 'image/jpeg' },
  { label: 'WebP', mime: 'image/webp' },
  { label: 'PDF', mime: 'application/pdf' },
];
const STATUSES: FileStatus[] = ['uploaded', 'processing', 'processed', 'failed', 'pending'];
const PAGE_SIZE = 20;

export function typeLabel(mime: string): string {
  return CONTENT_TYPES.find((type) => type.mime === mime)?.label ?? mime;
}

interface UploadRow {
  key: number;
  name: string;
  size: number;
  phase: 'uploading' | 'paused' | 'queued' | 'processing' | 'processed' | 'failed' | 'refused' | 'stored';
  sent: number;
  /** Sent with tus: it can be paused, and survives a dropped connection or a reload. */
  resumable: boolean;
  /** Bytes the server already held when this upload went on after a reload or a cut. */
  resumedFrom: number | null;
  fileId: string | null;
  jobId: string | null;
  percent: number | null;
  message: string | null;
}

let uploadKeys = 0;
const JOB_RECHECK_MS = 3000;

/** An upload row once its processing job reports a status (live event or re-read). */
function withJobStatus(row: UploadRow, status: string, error: string | undefined): UploadRow {
  if (row.phase !== 'queued' && row.phase !== 'processing') return row;
  if (status === 'succeeded') return { ...row, phase: 'processed', percent: 100, message: 'Processed' };
  if (status === 'running' && row.phase === 'queued') return { ...row, phase: 'processing', message: 'Started' };
  if (['failed', 'cancelled', 'timed_out'].includes(status)) {
    return { ...row, phase: 'failed', message: error ?? `Processing ${status.replace('_', ' ')}` };
  }
  return row;
}

export function FilesPage() {
  const { me } = useSession();
  const [uploads, setUploads] = useState<UploadRow[]>([]);
  const [unfinished, setUnfinished] = useState<UnfinishedUpload[]>([]);
  const controls = useRef(new Map<number, UploadControls>());
  const [schemaId, setSchemaId] = useState('');
  const [dragging, setDragging] = useState(false);
  const [reloadToken, setReloadToken] = useState(0);
  const pickerRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = 'Files · Intake';
  }, []);

  useEffect(() => {
    void unfinishedUploads(me.id).then(setUnfinished);
  }, [me.id]);

  const patch = useCallback((key: number, change: Partial<UploadRow>) => {
    setUploads((rows) => rows.map((row) => (row.key === key ? { ...row, ...change } : row)));
  }, []);

  const start = useCallback(
    (files: Iterable<File>) => {
      for (const file of files) {
        const key = ++uploadKeys;
        // tus creation takes no import schema yet: with one chosen, a large file goes as one request.
        const resumable = file.size > RESUMABLE_UPLOAD_BYTES && !schemaId;
        setUploads((rows) => [
          {
            key,
            name: file.name,
            size: file.size,
            phase: 'uploading',
            sent: 0,
            resumable,
            resumedFrom: null,
            fileId: null,
            jobId: null,
            percent: null,
            message: null,
          },
          ...rows,
        ]);
        const progress: UploadCallbacks = {
          onProgress: (sent, total) => patch(key, { sent: Math.min(sent, total, file.size) }),
        };
        const sending = resumable
          ? uploadResumably(file, me.id, {
              ...progress,
              onControls: (control) => controls.current.set(key, control),
              onPaused: (reason) => patch(key, { phase: 'paused', message: reason }),
              onResumed: () => patch(key, { phase: 'uploading', message: null }),
              onResumedFrom: (bytes) => patch(key, { resumedFrom: bytes, sent: bytes }),
            })
          : uploadFile(file, { ...progress, ...(schemaId ? { schemaId } : {}) });
        void sending.then((outcome) => {
          controls.current.delete(key);
          void unfinishedUploads(me.id).then(setUnfinished);
          if (outcome.ok) {
            const phase = outcome.file.job_id ? 'queued' : 'stored';
            patch(key, { phase, sent: file.size, fileId: outcome.file.id, jobId: outcome.file.job_id, message: null });
            setReloadToken((value) => value + 1);
          } else {
            const wait =
              outcome.status === 429 && outcome.retryAfter ? ` Try again in ${formatWait(Number(outcome.retryAfter))}.` : '';
            const message = (outcome.problem.detail ?? outcome.problem.title ?? `The upload failed (${outcome.status}).`) + wait;
            patch(key, { phase: 'refused', message });
          }
        });
      }
    },
    [patch, me.id, schemaId],
  );

  // Processing progress and outcome come from the WebSocket, matched by job id.
  useEffect(
    () =>
      liveEvents.listen((event) => {
        if (event.type === 'job.progress') {
          setUploads((rows) =>
            rows.map((row) =>
              row.jobId === event.job_id && (row.phase === 'queued' || row.phase === 'processing')
                ? { ...row, phase: 'processing', percent: event.progress.percent, message: event.progress.message }
                : row,
            ),
          );
        } else if (event.type === 'job.status') {
          setUploads((rows) =>
            rows.map((row) => (row.jobId === event.job_id ? withJobStatus(row, event.status, event.error?.message) : row)),
          );
        }
      }),
    [],
  );

  // A WebSocket can miss an ending: a job done before the socket subscribed (the first upload
  // right after sign-in), or while it reconnects. While an upload waits on its job, re-read the
  // job now and then, so that no row waits forever.
  const waiting = uploads
    .filter((row) => row.jobId !== null && (row.phase === 'queued' || row.phase === 'processing'))
    .map((row) => row.jobId)
    .join(',');
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => {
      for (const id of waiting.split(',')) {
        void api.GET('/api/v1/jobs/{id}', { params: { path: { id } } }).then(({ data }) => {
          if (!data) return;
          setUploads((rows) =>
            rows.map((row) => (row.jobId === id ? withJobStatus(row, data.status, data.error?.message) : row)),
          );
        });
      }
    }, JOB_RECHECK_MS);
    return () => clearInterval(timer);
  }, [waiting]);

  // Drop anywhere on the page.
  useEffect(() => {
    const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes('Files');
    const over = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      setDragging(true);
    };
    const leave = (event: DragEvent) => {
      if (event.relatedTarget === null) setDragging(false);
    };
    const drop = (event: DragEvent) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      setDragging(false);
      if (event.dataTransfer?.files.length) start(Array.from(event.dataTransfer.files));
    };
    window.addEventListener('dragover', over);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, [start]);

  return (
    <div class={dragging ? 'page dragging' : 'page'}>
      <h1>Files</h1>
      <section class="card dropzone" aria-labelledby="upload-title">
        <h2 id="upload-title">Upload</h2>
        <p>Drop files anywhere on this page, or pick them. CSV, JSON, NDJSON, XLSX, PNG, JPEG, WebP and PDF.</p>
        <SchemaSelect value={schemaId} onChange={setSchemaId} />
        <label class="button primary" for="file-picker">
          Choose files
        </label>
        <input
          id="file-picker"
          ref={pickerRef}
          class="visually-hidden"
          type="file"
          multiple
          onChange={(event) => {
            const files = event.currentTarget.files;
            if (files?.length) start(Array.from(files));
            event.currentTarget.value = '';
          }}
        />
        <UnfinishedUploads uploads={unfinished} />
        {uploads.length > 0 ? (
          <ul class="uploads" aria-label="Uploads">
            {uploads.map((row) => (
              <UploadItem key={row.key} row={row} controls={controls.current.get(row.key)} />
            ))}
          </ul>
        ) : null}
      </section>
      {dragging ? (
        <div class="drop-overlay" aria-hidden="true">
          Drop to upload
        </div>
      ) : null}
      <FileTable reloadToken={reloadToken} />
    </div>
  );
}

/** After a reload: what this account left unfinished here, resumed by choosing the same file again. */
function UnfinishedUploads({ uploads }: { uploads: UnfinishedUpload[] }) {
  if (uploads.length === 0) return null;
  return (
    <div class="unfinished" role="region" aria-label="Unfinished uploads">
      <p>Unfinished uploads. Choose the same file again to go on from where it stopped:</p>
      <ul>
        {uploads.map((upload) => (
          <li key={`${upload.filename}-${upload.startedAt}`}>
            {upload.filename}
            {upload.size === null ? '' : ` (${formatBytes(upload.size)})`}
          </li>
        ))}
      </ul>
    </div>
  );
}

function UploadItem({ row, controls }: { row: UploadRow; controls: UploadControls | undefined }) {
  const uploadPercent = row.size === 0 ? 100 : (row.sent / row.size) * 100;
  let body;
  if (row.phase === 'uploading' || row.phase === 'paused')
    body = (
      <>
        <ProgressBar
          label={`Uploading ${row.name}`}
          value={uploadPercent}
          text={`${formatBytes(row.sent)} of ${formatBytes(row.size)} sent`}
        />
        {row.phase === 'paused' && row.message ? <p class="hint">{row.message}</p> : null}
        {row.resumable && controls ? (
          <button
            type="button"
            class="upload-control"
            aria-label={`${row.phase === 'paused' ? 'Resume' : 'Pause'} ${row.name}`}
            onClick={() => (row.phase === 'paused' ? controls.resume() : controls.pause())}
          >
            {row.phase === 'paused' ? 'Resume' : 'Pause'}
          </button>
        ) : null}
      </>
    );
  else if (row.phase === 'queued' || row.phase === 'processing') {
    body = (
      <ProgressBar
        label={`Processing ${row.name}`}
        value={row.percent ?? 0}
        text={`${row.percent ?? 0}% ${row.message ?? 'queued'}`}
      />
    );
  } else if (row.phase === 'refused') body = <ErrorMessage message={row.message} />;
  else body = null;
  const outcome: Record<UploadRow['phase'], string> = {
    uploading: 'Uploading',
    paused: 'Paused',
    queued: 'Queued',
    processing: 'Processing',
    processed: 'Processed',
    failed: 'Failed',
    refused: 'Refused',
    stored: 'Stored',
  };
  return (
    <li class={`upload upload-${row.phase}`} data-phase={row.phase}>
      <div class="upload-head">
        <span class="upload-name">{row.fileId ? <a href={href(`files/${row.fileId}`)}>{row.name}</a> : row.name}</span>
        <span class="upload-size">{formatBytes(row.size)}</span>
        <span class="upload-outcome" aria-live="polite">
          {outcome[row.phase]}
          {row.phase === 'processing' && row.percent !== null ? ` ${row.percent}%` : ''}
        </span>
      </div>
      {body}
      {row.resumedFrom ? <p class="hint">Went on from the {formatBytes(row.resumedFrom)} the server already held.</p> : null}
      {row.phase === 'failed' && row.message ? <p class="error">{row.message}</p> : null}
      {row.phase === 'processing' && row.message ? <p class="hint">{row.message}</p> : null}
    </li>
  );
}

function FileTable({ reloadToken }: { reloadToken: number }) {
  const [status, setStatus] = useState<FileStatus | ''>('');
  const [contentType, setContentType] = useState('');
  const [name, setName] = useState('');
  const [sort, setSort] = useState<'created_at' | 'filename'>('created_at');
  const [order, setOrder] = useState<'asc' | 'desc'>('desc');
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<FileList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [liveToken, setLiveToken] = useState(0);

  const load = useCallback(async () => {
    const query: ListQuery = { limit: PAGE_SIZE, offset, sort, order };
    if (status) query.status = status;
    if (contentType) query.content_type = contentType;
    if (name.trim()) query.filename = name.trim();
    const { data, error: problem, response } = await api.GET('/api/v1/files', { params: { query } });
    if (data) {
      setList(data);
      setError(null);
    } else setError(describeProblem(problem, response));
  }, [status, contentType, name, sort, order, offset]);

  useEffect(() => {
    void load();
  }, [load, reloadToken, liveToken]);

  // Live status: patch the row in place; the filter may no longer match, which the next load settles.
  useEffect(() => {
    const offListen = liveEvents.listen((event) => {
      if (event.type !== 'file.status') return;
      setList((current) => {
        if (!current) return current;
        const known = current.items.some((item) => item.id === event.file_id);
        if (!known) {
          setLiveToken((value) => value + 1);
          return current;
        }
        return {
          ...current,
          items: current.items.map((item) =>
            item.id === event.file_id ? { ...item, status: event.status as FileStatus } : item,
          ),
        };
      });
    });
    const offReconnect = liveEvents.onReconnect(() => setLiveToken((value) => value + 1));
    return () => {
      offListen();
      offReconnect();
    };
  }, []);

  async function deleteSelected(): Promise<void> {
    const failures: string[] = [];
    for (const id of selected) {
      const { error: problem, response } = await api.DELETE('/api/v1/files/{id}', { params: { path: { id } } });
      if (!response.ok) failures.push(describeProblem(problem, response));
    }
    setSelected(new Set());
    setError(failures.length ? `Some files were not deleted: ${failures.join(' ')}` : null);
    await load();
  }

  const items = list?.items ?? [];
  const total = list?.total ?? 0;
  const allSelected = items.length > 0 && items.every((item) => selected.has(item.id));
  return (
    <section class="card" aria-labelledby="list-title">
      <h2 id="list-title">Your files</h2>
      <form
        class="filters"
        role="search"
        aria-label="Filter files"
        onSubmit={(event) => {
          event.preventDefault();
          setOffset(0);
          void load();
        }}
      >
        <div class="field">
          <label for="filter-name">Name contains</label>
          <input
            id="filter-name"
            type="search"
            value={name}
            onInput={(event) => {
              setName(event.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select
            id="filter-status"
            value={status}
            onChange={(event) => {
              setStatus(event.currentTarget.value as FileStatus | '');
              setOffset(0);
            }}
          >
            <option value="">Any</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-type">Type</label>
          <select
            id="filter-type"
            value={contentType}
            onChange={(event) => {
              setContentType(event.currentTarget.value);
              setOffset(0);
            }}
          >
            <option value="">Any</option>
            {CONTENT_TYPES.map((type) => (
              <option key={type.mime} value={type.mime}>
                {type.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="sort">Sort by</label>
          <select
            id="sort"
            value={`${sort}:${order}`}
            onChange={(event) => {
              const [field, direction] = event.currentTarget.value.split(':') as ['created_at' | 'filename', 'asc' | 'desc'];
              setSort(field);
              setOrder(direction);
            }}
          >
            <option value="created_at:desc">Newest first</option>
            <option value="created_at:asc">Oldest first</option>
            <option value="filename:asc">Name A–Z</option>
            <option value="filename:desc">Name Z–A</option>
          </select>
        </div>
      </form>
      <ErrorMessage message={error} />
      <div class="toolbar">
        <span aria-live="polite">{list ? `${total} file${total === 1 ? '' : 's'}` : 'Loading…'}</span>
        <ConfirmButton
          label={`Delete selected (${selected.size})`}
          confirmLabel={`Delete ${selected.size}`}
          question={`Delete ${selected.size} file${selected.size === 1 ? '' : 's'} and their records?`}
          disabled={selected.size === 0}
          onConfirm={deleteSelected}
        />
      </div>
      <div class="table-scroll">
        <table class="files-table">
          <caption class="visually-hidden">Your files</caption>
          <thead>
            <tr>
              <th scope="col">
                <input
                  type="checkbox"
                  aria-label="Select all files on this page"
                  checked={allSelected}
                  onChange={(event) =>
                    setSelected(event.currentTarget.checked ? new Set(items.map((item) => item.id)) : new Set())
                  }
                />
              </th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Type</th>
              <th scope="col">Size</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <FileRow
                key={item.id}
                item={item}
                selected={selected.has(item.id)}
                onSelect={(checked) =>
                  setSelected((current) => {
                    const next = new Set(current);
                    if (checked) next.add(item.id);
                    else next.delete(item.id);
                    return next;
                  })
                }
              />
            ))}
            {list && items.length === 0 ? (
              <tr>
                <td colSpan={6} class="empty">
                  No files yet. Drop some on this page.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of files">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
          Previous
        </button>
        <span>
          {total === 0 ? 0 : offset + 1}–{Math.min(offset + PAGE_SIZE, total)} of {total}
        </span>
        <button type="button" disabled={offset + PAGE_SIZE >= total} onClick={() => setOffset(offset + PAGE_SIZE)}>
          Next
        </button>
      </nav>
    </section>
  );
}

function FileRow({ item, selected, onSelect }: { item: FileItem; selected: boolean; onSelect: (checked: boolean) => void }) {
  return (
    <tr>
      <td>
        <input
          type="checkbox"
          aria-label={`Select ${item.filename}`}
          checked={selected}
          onChange={(event) => onSelect(event.currentTarget.checked)}
        />
      </td>
      <td class="name">
        <a href={href(`files/${item.id}`)}>{item.filename}</a>
      </td>
      <td>
        <StatusBadge status={item.status} />
      </td>
      <td>{typeLabel(item.content_type)}</td>
      <td class="number">{formatBytes(item.size_bytes)}</td>
      <td>{formatDate(item.created_at)}</td>
    </tr>
  );
}
