import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { liveEvents } from '../api/realtime';
import type { paths } from '../api/schema';
import { ConfirmButton, CopyField, ErrorMessage, Notice, ProgressBar, Section, StatusBadge } from '../components/common';
import { ImportDetails } from '../components/imports';
import { formatBytes, formatDate, formatDuration } from '../format';
import { href, navigate } from '../router';
import { typeLabel } from './files';
import { RecordsTable } from './records';

type StoredFile = paths['/api/v1/files/{id}']['get']['responses'][200]['content']['application/json'];
type Job = paths['/api/v1/jobs/{id}']['get']['responses'][200]['content']['application/json'];

const RUNNING = new Set(['queued', 'running']);

interface TabularResult {
  kind: 'tabular';
  rows: number;
  problem_count: number;
  problems: { row: number; message: string }[];
}

function tabularResult(job: Job | undefined): TabularResult | null {
  const result = job?.result as { kind?: string } | null | undefined;
  return result?.kind === 'tabular' ? (result as TabularResult) : null;
}

export function FilePage({ fileId }: { fileId: string }) {
  const [file, setFile] = useState<StoredFile | null>(null);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [progress, setProgress] = useState<{ percent: number | null; message: string | null } | null>(null);

  const load = useCallback(async () => {
    const { data, error: problem, response } = await api.GET('/api/v1/files/{id}', { params: { path: { id: fileId } } });
    if (!data) {
      setError(describeProblem(problem, response));
      return;
    }
    setFile(data);
    document.title = `${data.filename} · Intake`;
    // The job list has no file filter: the file's jobs are among the caller's most recent ones.
    const list = await api.GET('/api/v1/jobs', { params: { query: { limit: 100, offset: 0 } } });
    if (list.data) setJobs(list.data.items.filter((job) => job.file_id === fileId));
  }, [fileId]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    const off = liveEvents.listen((event) => {
      if (event.type === 'job.progress' && event.file_id === fileId)
        setProgress({ percent: event.progress.percent, message: event.progress.message });
      if (
        (event.type === 'file.status' && event.file_id === fileId) ||
        (event.type === 'job.status' && event.file_id === fileId)
      ) {
        if (event.type === 'job.status' && !RUNNING.has(event.status)) setProgress(null);
        void load();
      }
    });
    const offReconnect = liveEvents.onReconnect(() => void load());
    return () => {
      off();
      offReconnect();
    };
  }, [fileId, load]);

  if (error && !file) {
    return (
      <div class="page">
        <p>
          <a href={href('files')}>← Files</a>
        </p>
        <ErrorMessage message={error} />
      </div>
    );
  }
  if (!file) return <p aria-busy="true">Loading…</p>;

  const latest = jobs[0];
  const active = jobs.find((job) => RUNNING.has(job.status));
  const metadata = (file.metadata ?? {}) as Record<string, unknown>;
  const columns = Array.isArray(metadata.columns) ? (metadata.columns as unknown[]).map(String) : null;
  const tabular = columns !== null || typeof metadata.rows === 'number';
  const problems = tabularResult(jobs.find((job) => job.status === 'succeeded'));

  async function reprocess(): Promise<void> {
    const { data, error: problem, response } = await api.POST('/api/v1/files/{id}/process', { params: { path: { id: fileId } } });
    if (data) setNotice('Processing queued again.');
    else setError(describeProblem(problem, response));
    await load();
  }

  async function cancel(jobId: string): Promise<void> {
    const { error: problem, response } = await api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: jobId } } });
    if (response.ok) setNotice('Cancellation requested.');
    else setError(describeProblem(problem, response));
    await load();
  }

  async function remove(): Promise<void> {
    const { error: problem, response } = await api.DELETE('/api/v1/files/{id}', { params: { path: { id: fileId } } });
    if (response.ok) navigate('files');
    else setError(describeProblem(problem, response));
  }

  return (
    <div class="page">
      <p>
        <a href={href('files')}>← Files</a>
      </p>
      <h1 class="file-title">{file.filename}</h1>
      <ErrorMessage message={error} />
      <Notice message={notice} />
      <div class="actions">
        <button type="button" onClick={() => void reprocess()} disabled={active !== undefined}>
          Reprocess
        </button>
        {active ? (
          <button type="button" onClick={() => void cancel(active.id)}>
            Cancel processing
          </button>
        ) : null}
        <ConfirmButton
          label="Delete file"
          confirmLabel="Delete"
          question="Delete this file and its records?"
          onConfirm={remove}
        />
      </div>
      {active ? (
        <ProgressBar
          label={`Processing ${file.filename}`}
          value={progress?.percent ?? active.progress.percent ?? 0}
          text={progress?.message ?? active.progress.message ?? active.status}
        />
      ) : null}
      <Section title="Details">
        <dl class="details">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={file.status} />
          </dd>
          <dt>Type</dt>
          <dd>{typeLabel(file.content_type)}</dd>
          <dt>Size</dt>
          <dd>{formatBytes(file.size_bytes)}</dd>
          <dt>Created</dt>
          <dd>{formatDate(file.created_at)}</dd>
          <dt>SHA-256</dt>
          <dd class="mono">{file.sha256 ?? '—'}</dd>
          {typeof metadata.rows === 'number' ? (
            <>
              <dt>Rows</dt>
              <dd>{metadata.rows}</dd>
            </>
          ) : null}
          {typeof metadata.width === 'number' ? (
            <>
              <dt>Dimensions</dt>
              <dd>
                {String(metadata.width)} × {String(metadata.height)} px{metadata.format ? ` (${String(metadata.format)})` : ''}
              </dd>
            </>
          ) : null}
          {typeof metadata.page_count === 'number' ? (
            <>
              <dt>Pages</dt>
              <dd>{metadata.page_count}</dd>
              {Object.entries(metadata)
                .filter(([key, value]) => key !== 'page_count' && value !== null && typeof value !== 'object')
                .map(([key, value]) => (
                  <>
                    <dt>{key.replace(/_/g, ' ')}</dt>
                    <dd>{String(value)}</dd>
                  </>
                ))}
            </>
          ) : null}
        </dl>
        {file.content_type.startsWith('image/') && file.status === 'processed' ? (
          <img class="thumbnail" src={`/api/v1/files/${file.id}/thumbnail`} alt={`Thumbnail of ${file.filename}`} />
        ) : null}
      </Section>
      {tabular && file.status === 'processed' ? <ImportDetails fileId={file.id} metadata={metadata} /> : null}
      {tabular && file.status === 'processed' ? <RecordsTable fileId={file.id} columns={columns ?? []} /> : null}
      {problems && problems.problems.length > 0 ? (
        <Section title={`Row problems (${problems.problem_count})`}>
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {problems.problems.map((problem) => (
                  <tr key={`${problem.row}-${problem.message}`}>
                    <td class="number">{problem.row}</td>
                    <td>{problem.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {problems.problem_count > problems.problems.length ? (
            <p class="hint">The first {problems.problems.length} are listed.</p>
          ) : null}
        </Section>
      ) : null}
      <SignedLink fileId={file.id} />
      <Section title="Processing history">
        {jobs.length === 0 ? <p>No processing jobs{latest ? '' : ' yet'}.</p> : null}
        {jobs.length > 0 ? (
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Status</th>
                  <th scope="col">Attempts</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {jobs.map((job) => (
                  <tr key={job.id}>
                    <td>{formatDate(job.started_at ?? job.created_at)}</td>
                    <td>
                      <StatusBadge status={job.status} />
                    </td>
                    <td class="number">
                      {job.attempts} of {job.max_attempts}
                    </td>
                    <td>{formatDuration(job.started_at, job.finished_at)}</td>
                    <td>{job.error ? `${job.error.code}: ${job.error.message}` : ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Section>
    </div>
  );
}

const EXPIRY_CHOICES = [
  { seconds: 600, label: '10 minutes' },
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 604_800, label: '7 days' },
];

function SignedLink({ fileId }: { fileId: string }) {
  const [expiresIn, setExpiresIn] = useState(3600);
  const [link, setLink] = useState<{ url: string; expires_at: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <Section title="Share a download link">
      <form
        class="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const {
            data,
            error: problem,
            response,
          } = await api.POST('/api/v1/files/{id}/link', {
            params: { path: { id: fileId } },
            body: { expires_in: expiresIn },
          });
          if (data) {
            setLink({ url: new URL(data.url, location.origin).href, expires_at: data.expires_at });
            setError(null);
          } else setError(describeProblem(problem, response));
        }}
      >
        <div class="field">
          <label for="link-expiry">Link works for</label>
          <select
            id="link-expiry"
            value={String(expiresIn)}
            onChange={(event) => setExpiresIn(Number(event.currentTarget.value))}
          >
            {EXPIRY_CHOICES.map((choice) => (
              <option key={choice.seconds} value={String(choice.seconds)}>
                {choice.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit">Create link</button>
      </form>
      <ErrorMessage message={error} />
      {link ? (
        <>
          <CopyField label="Signed link" value={link.url} />
          <p class="hint">Anyone with this link can download the file until {formatDate(link.expires_at)}.</p>
        </>
      ) : null}
    </Section>
  );
}
