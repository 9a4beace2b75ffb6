import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ErrorMessage } from '../components/common';
import type { paths } from '../api/schema';
import { formatDate } from '../format';

type AuditQuery = NonNullable<paths['/api/v1/admin/audit']['get']['parameters']['query']>;
type AuditPage = Awaited<ReturnType<typeof fetchAudit>>;

async function fetchAudit(query: AuditQuery) {
  const { data, error, response } = await api.GET('/api/v1/admin/audit', { params: { query } });
  if (!data) throw new Error(describeProblem(error, response));
  return data;
}

const ACTIONS = [
  'sign_in.succeeded',
  'sign_in.failed',
  'password.changed',
  'password.reset_requested',
  'password.reset',
  'session.revoked',
  'session.token_reused',
  'email.verified',
  'email.change_requested',
  'api_key.created',
  'api_key.revoked',
  'user.role_changed',
  'user.activated',
  'user.deactivated',
  'webhook.secret_rotated',
] as const;

/** Admin: the security audit log, filtered by action. */
export function AdminAuditPage() {
  const [action, setAction] = useState<string>('');
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    document.title = 'Audit log · Intake';
  }, []);
  useEffect(() => {
    const query = { limit: 50, offset: 0, ...(action ? { action: action as (typeof ACTIONS)[number] } : {}) } as AuditQuery;
    fetchAudit(query).then(
      (loaded) => {
        setPage(loaded);
        setError(null);
      },
      (problem: Error) => setError(problem.message),
    );
  }, [action]);
  return (
    <div class="page">
      <h1>Audit log</h1>
      <div class="field">
        <label for="audit-action">Action</label>
        <select id="audit-action" value={action} onChange={(event) => setAction(event.currentTarget.value)}>
          <option value="">All actions</option>
          {ACTIONS.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <ErrorMessage message={error} />
      <div class="table-scroll">
        <table class="audit">
          <caption class="visually-hidden">Security events, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Actor</th>
              <th scope="col">Account</th>
              <th scope="col">Address</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {page && page.items.length === 0 ? (
              <tr>
                <td colSpan={6}>No events.</td>
              </tr>
            ) : null}
            {(page?.items ?? []).map((item) => (
              <tr key={item.id}>
                <td>{formatDate(item.occurred_at)}</td>
                <td>{item.action}</td>
                <td>{item.actor_id ?? '—'}</td>
                <td>{item.target_user_id ?? '—'}</td>
                <td>{item.ip ?? '—'}</td>
                <td>
                  {Object.entries(item.details)
                    .map(([key, value]) => `${key}: ${String(value)}`)
                    .join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page ? <p>{page.total} events in all.</p> : null}
    </div>
  );
}
