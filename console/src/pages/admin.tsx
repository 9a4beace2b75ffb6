import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { ErrorMessage, Section, StatusBadge } from '../components/common';
import { formatDate } from '../format';
import { useSession } from '../session';

type UserList = paths['/api/v1/users']['get']['responses'][200]['content']['application/json'];
type QueueCounts = paths['/api/v1/admin/queues']['get']['responses'][200]['content']['application/json'];

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

function Queues() {
  const [counts, setCounts] = useState<QueueCounts | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const { data, error: problem, response } = await api.GET('/api/v1/admin/queues');
    if (data) setCounts(data);
    else setError(describeProblem(problem, response));
  }, []);
  useEffect(() => void load(), [load]);
  const states = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
  return (
    <Section title="Queues">
      <div class="toolbar">
        <span />
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <ErrorMessage message={error} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              {states.map((state) => (
                <th scope="col" key={state}>
                  {state.replace('_', ' ')}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {(counts?.queues ?? []).map((queue) => (
              <tr key={queue.name}>
                <th scope="row">{queue.name}</th>
                {states.map((state) => (
                  <td class="number" key={state}>
                    {queue.counts[state]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
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
                  <button type="button" disabled={user.id === me.id} onClick={() => void change(user.id, { is_active: !user.is_active })}>
                    {user.is_active ? `Deactivate ${user.email}` : `Activate ${user.email}`}
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
