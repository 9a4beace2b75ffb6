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

type AuditAction = NonNullable<AuditQuery['action']>;

// Keyed by the API's own list of actions (the generated schema): a new action the server records
// fails the typecheck here until it is offered in the filter.
const ACTION_CHOICES: Record<AuditAction, true> = {
  'sign_in.succeeded': true,
  'sign_in.failed': true,
  'sign_in.challenged': true,
  'session.signed_out': true,
  'password.changed': true,
  'password.reset_requested': true,
  'password.reset': true,
  'session.revoked': true,
  'session.token_reused': true,
  'email.verified': true,
  'email.change_requested': true,
  'api_key.created': true,
  'api_key.revoked': true,
  'user.role_changed': true,
  'user.activated': true,
  'user.deactivated': true,
  'webhook.secret_rotated': true,
  'two_factor.enrolment_started': true,
  'two_factor.enabled': true,
  'two_factor.disabled': true,
  'two_factor.recovery_code_used': true,
  'identity.signed_in': true,
  'identity.linked': true,
  'identity.unlinked': true,
};
const ACTIONS = Object.keys(ACTION_CHOICES) as AuditAction[];

/** Admin: the security audit log, filtered by action. */
export function AdminAuditPage() {
  const [action, setAction] = useState<string>('');
  const [page, setPage] = useState<AuditPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    document.title = 'Audit log · Intake';
  }, []);
  useEffect(() => {
    const query = { limit: 50, offset: 0, ...(action ? { action: action as AuditAction } : {}) } as AuditQuery;
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
