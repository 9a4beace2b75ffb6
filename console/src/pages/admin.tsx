import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { ErrorMessage, Section, StatusBadge } from '../components/common';
import { formatDate } from '../format';
import { useSession } from '../session';

type UserList = paths['/api/v1/users']['get']['responses'][200]['content']['application/json'];

export function AdminPage() {
  useEffect(() => {
    document.title = 'Administration · Intake';
  }, []);
  return (
    <div class="page">
      <h1>Administration</h1>
      <Queues />
      <Users />
    </div>
  );
}

type Summary = paths['/api/v1/admin/jobs/summary']['get']['responses'][200]['content']['application/json'];
type AdminJobs = paths['/api/v1/admin/jobs']['get']['responses'][200]['content']['application/json'];
type AdminJobsQuery = NonNullable<paths['/api/v1/admin/jobs']['get']['parameters']['query']>;
type JobStatus = NonNullable<AdminJobsQuery['status']>;

const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;

/** The queue dashboard: counts per queue and state, throughput, oldest waiting job, live workers, and the jobs themselves. */
function Queues() {
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const load = useCallback(async () => {
    const { data, error: problem, response } = await api.GET('/api/v1/admin/jobs/summary');
    if (data) setSummary(data);
    else setError(describeProblem(problem, response));
  }, []);
  useEffect(() => void load(), [load, reload]);
  const windowMinutes = summary ? Math.round(summary.throughput_window_seconds / 60) : 0;
  return (
    <>
      <Section title="Queues">
        <div class="toolbar">
          <span class="hint">{summary ? `As of ${formatDate(summary.generated_at)}` : 'Loading…'}</span>
          <button type="button" onClick={() => setReload((value) => value + 1)}>
            Refresh
          </button>
        </div>
        <ErrorMessage message={error} />
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                {STATES.map((state) => (
                  <th scope="col" key={state}>
                    {state.replace('_', ' ')}
                  </th>
                ))}
                <th scope="col">Oldest waiting</th>
                <th scope="col">Done in {windowMinutes} min</th>
              </tr>
            </thead>
            <tbody>
              {(summary?.queues ?? []).map((queue) => (
                <tr key={queue.name}>
                  <th scope="row">{queue.name}</th>
                  {STATES.map((state) => (
                    <td class="number" key={state}>
                      {queue.counts[state]}
                    </td>
                  ))}
                  <td class="number">{queue.oldest_waiting_seconds === null ? '—' : `${queue.oldest_waiting_seconds} s`}</td>
                  <td class="number">
                    {queue.finished_recently.succeeded} ok, {queue.finished_recently.failed} failed
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <h3>Workers running jobs</h3>
        {summary && summary.workers.length === 0 ? <p class="hint">No worker is running a job right now.</p> : null}
        <ul>
          {(summary?.workers ?? []).map((worker) => (
            <li key={worker.id}>
              <span class="mono">{worker.id}</span>: {worker.running} running, last heartbeat{' '}
              {formatDate(worker.last_heartbeat_at)}
            </li>
          ))}
        </ul>
      </Section>
      <Jobs onChanged={() => setReload((value) => value + 1)} />
    </>
  );
}

const JOBS_PAGE = 20;

function Jobs({ onChanged }: { onChanged: () => void }) {
  const [status, setStatus] = useState<JobStatus | ''>('failed');
  const [queue, setQueue] = useState('');
  const [offset, setOffset] = useState(0);
  const [jobs, setJobs] = useState<AdminJobs | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const query: AdminJobsQuery = { limit: JOBS_PAGE, offset };
    if (status) query.status = status;
    if (queue.trim()) query.queue = queue.trim();
    const { data, error: problem, response } = await api.GET('/api/v1/admin/jobs', { params: { query } });
    if (data) setJobs(data);
    else setError(describeProblem(problem, response));
  }, [status, queue, offset]);
  useEffect(() => void load(), [load]);

  async function act(id: string, action: 'retry' | 'discard'): Promise<void> {
    const path = { params: { path: { id } } };
    const { error: problem, response } =
      action === 'retry'
        ? await api.POST('/api/v1/admin/jobs/{id}/retry', path)
        : await api.POST('/api/v1/admin/jobs/{id}/discard', path);
    setError(response.ok ? null : describeProblem(problem, response));
    await load();
    onChanged();
  }

  const total = jobs?.total ?? 0;
  return (
    <Section title="Jobs">
      <form class="filters" role="search" aria-label="Filter jobs" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="jobs-status">Status</label>
          <select
            id="jobs-status"
            value={status}
            onChange={(event) => {
              setStatus(event.currentTarget.value as JobStatus | '');
              setOffset(0);
            }}
          >
            <option value="">Any</option>
            {STATES.map((state) => (
              <option key={state} value={state}>
                {state.replace('_', ' ')}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="jobs-queue">Queue</label>
          <input
            id="jobs-queue"
            value={queue}
            onInput={(event) => {
              setQueue(event.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
      </form>
      <ErrorMessage message={error} />
      <div class="table-scroll">
        <table class="jobs-table">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Error</th>
              <th scope="col">Finished</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(jobs?.items ?? []).map((job) => (
              <tr key={job.id}>
                <td>
                  {job.type}
                  <br />
                  <span class="hint mono">{job.queue}</span>
                </td>
                <td>
                  <StatusBadge status={job.status} />
                </td>
                <td class="number">
                  {job.attempts} of {job.max_attempts}
                </td>
                <td class="problem">{job.error ? `${job.error.code}: ${job.error.message}` : ''}</td>
                <td>{formatDate(job.finished_at)}</td>
                <td>
                  {['failed', 'timed_out'].includes(job.status) ? (
                    <span class="actions">
                      <button type="button" onClick={() => void act(job.id, 'retry')}>
                        Retry
                      </button>
                      <button type="button" class="danger" onClick={() => void act(job.id, 'discard')}>
                        Discard
                      </button>
                    </span>
                  ) : null}
                </td>
              </tr>
            ))}
            {jobs && jobs.items.length === 0 ? (
              <tr>
                <td colSpan={6} class="empty">
                  No jobs{status ? ` with status ${status.replace('_', ' ')}` : ''}.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of jobs">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - JOBS_PAGE))}>
          Previous
        </button>
        <span>
          {total === 0 ? 0 : offset + 1}–{Math.min(offset + JOBS_PAGE, total)} of {total}
        </span>
        <button type="button" disabled={offset + JOBS_PAGE >= total} onClick={() => setOffset(offset + JOBS_PAGE)}>
          Next
        </button>
      </nav>
    </Section>
  );
}

const USERS_PAGE = 20;

function Users() {
  const { me } = useSession();
  const [search, setSearch] = useState('');
  const [offset, setOffset] = useState(0);
  const [list, setList] = useState<UserList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const query: NonNullable<paths['/api/v1/users']['get']['parameters']['query']> = { limit: USERS_PAGE, offset };
    if (search.trim()) query.email = search.trim();
    const { data, error: problem, response } = await api.GET('/api/v1/users', { params: { query } });
    if (data) setList(data);
    else setError(describeProblem(problem, response));
  }, [search, offset]);
  useEffect(() => void load(), [load]);

  async function change(id: string, body: { role?: 'user' | 'admin'; is_active?: boolean }): Promise<void> {
    const { error: problem, response } = await api.PATCH('/api/v1/users/{id}', { params: { path: { id } }, body });
    setError(response.ok ? null : describeProblem(problem, response));
    await load();
  }

  const total = list?.total ?? 0;
  return (
    <Section title="Users">
      <form class="filters" role="search" aria-label="Search users" onSubmit={(event) => event.preventDefault()}>
        <div class="field">
          <label for="user-search">Email contains</label>
          <input
            id="user-search"
            type="search"
            value={search}
            onInput={(event) => {
              setSearch(event.currentTarget.value);
              setOffset(0);
            }}
          />
        </div>
      </form>
      <ErrorMessage message={error} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {(list?.items ?? []).map((user) => (
              <tr key={user.id}>
                <td>{user.email}</td>
                <td>{user.full_name ?? ''}</td>
                <td>
                  <label class="visually-hidden" for={`role-${user.id}`}>
                    Role of {user.email}
                  </label>
                  <select
                    id={`role-${user.id}`}
                    value={user.role}
                    disabled={user.id === me.id}
                    onChange={(event) => void change(user.id, { role: event.currentTarget.value as 'user' | 'admin' })}
                  >
                    <option value="user">user</option>
                    <option value="admin">admin</option>
                  </select>
                </td>
                <td>
                  <StatusBadge status={user.is_active ? 'active' : 'inactive'} />{' '}
                  <button
                    type="button"
                    disabled={user.id === me.id}
                    onClick={() => void change(user.id, { is_active: !user.is_active })}
                  >
                    {user.is_active ? 'Deactivate' : 'Activate'}
                    <span class="visually-hidden"> {user.email}</span>
                  </button>
                </td>
                <td>{formatDate(user.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of users">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - USERS_PAGE))}>
          Previous
        </button>
        <span>
          {total === 0 ? 0 : offset + 1}–{Math.min(offset + USERS_PAGE, total)} of {total}
        </span>
        <button type="button" disabled={offset + USERS_PAGE >= total} onClick={() => setOffset(offset + USERS_PAGE)}>
          Next
        </button>
      </nav>
    </Section>
  );
}
