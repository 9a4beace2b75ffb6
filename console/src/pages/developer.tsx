import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { ConfirmButton, CopyField, ErrorMessage, Section, StatusBadge } from '../components/common';
import { formatDate } from '../format';

type ApiKey = paths['/api/v1/api-keys']['get']['responses'][200]['content']['application/json']['items'][number];
type Webhook = paths['/api/v1/webhooks']['get']['responses'][200]['content']['application/json']['items'][number];
type Delivery =
  paths['/api/v1/webhooks/{id}/deliveries']['get']['responses'][200]['content']['application/json']['items'][number];
type WebhookEvent = paths['/api/v1/webhooks']['post']['requestBody']['content']['application/json']['events'][number];

const WEBHOOK_EVENTS: WebhookEvent[] = ['file.uploaded', 'file.processed', 'file.failed', 'job.succeeded', 'job.failed'];

export function DeveloperPage() {
  useEffect(() => {
    document.title = 'Developer settings · Intake';
  }, []);
  return (
    <div class="page">
      <h1>Developer settings</h1>
      <ApiKeys />
      <Webhooks />
    </div>
  );
}

function ApiKeys() {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [name, setName] = useState('');
  const [expiresOn, setExpiresOn] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const {
      data,
      error: problem,
      response,
    } = await api.GET('/api/v1/api-keys', { params: { query: { limit: 100, offset: 0 } } });
    if (data) setKeys(data.items);
    else setError(describeProblem(problem, response));
  }, []);
  useEffect(() => void load(), [load]);

  return (
    <Section title="API keys">
      <p>
        A key lets a program call the API as you: send it as <code>Authorization: Bearer ik_…</code>.
      </p>
      <form
        class="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const expires = expiresOn ? new Date(`${expiresOn}T23:59:59`).toISOString() : null;
          const { data, error: problem, response } = await api.POST('/api/v1/api-keys', { body: { name, expires_at: expires } });
          if (data) {
            setCreated(data.key);
            setName('');
            setExpiresOn('');
            setError(null);
            await load();
          } else setError(describeProblem(problem, response));
        }}
      >
        <div class="field">
          <label for="key-name">Key name</label>
          <input id="key-name" required maxLength={100} value={name} onInput={(event) => setName(event.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="key-expiry">Expires on (optional)</label>
          <input id="key-expiry" type="date" value={expiresOn} onInput={(event) => setExpiresOn(event.currentTarget.value)} />
        </div>
        <button type="submit" class="primary">
          Create key
        </button>
      </form>
      <ErrorMessage message={error} />
      {created ? (
        <div class="secret" role="status">
          <CopyField label="New API key" value={created} />
          <p class="hint">This is the only time the key is shown. Store it now.</p>
          <button type="button" onClick={() => setCreated(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      <div class="table-scroll">
        <table>
          <caption class="visually-hidden">Your API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id}>
                <td>{key.name}</td>
                <td class="mono">{key.prefix}…</td>
                <td>{formatDate(key.created_at)}</td>
                <td>{key.last_used_at ? formatDate(key.last_used_at) : 'Never'}</td>
                <td>{key.expires_at ? formatDate(key.expires_at) : 'Never'}</td>
                <td>
                  <ConfirmButton
                    label="Revoke"
                    accessibleLabel={`Revoke ${key.name}`}
                    confirmLabel="Revoke"
                    question={`Revoke ${key.name}? Programs using it stop working at once.`}
                    onConfirm={async () => {
                      const { error: problem, response } = await api.DELETE('/api/v1/api-keys/{id}', {
                        params: { path: { id: key.id } },
                      });
                      if (!response.ok) setError(describeProblem(problem, response));
                      await load();
                    }}
                  />
                </td>
              </tr>
            ))}
            {keys.length === 0 ? (
              <tr>
                <td colSpan={6} class="empty">
                  No API keys.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </Section>
  );
}

function Webhooks() {
  const [hooks, setHooks] = useState<Webhook[]>([]);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<Set<WebhookEvent>>(new Set(['file.processed', 'file.failed']));
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const load = useCallback(async () => {
    const {
      data,
      error: problem,
      response,
    } = await api.GET('/api/v1/webhooks', { params: { query: { limit: 100, offset: 0 } } });
    if (data) setHooks(data.items);
    else setError(describeProblem(problem, response));
  }, []);
  useEffect(() => void load(), [load]);

  return (
    <Section title="Webhooks">
      <p>Intake POSTs signed events about your files to these URLs.</p>
      <form
        class="webhook-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const { data, error: problem, response } = await api.POST('/api/v1/webhooks', { body: { url, events: [...events] } });
          if (data) {
            setSecret(data.secret);
            setUrl('');
            setError(null);
            await load();
          } else setError(describeProblem(problem, response));
        }}
      >
        <div class="field">
          <label for="webhook-url">Endpoint URL</label>
          <input
            id="webhook-url"
            type="url"
            required
            placeholder="https://example.com/intake-hook"
            value={url}
            onInput={(event) => setUrl(event.currentTarget.value)}
          />
        </div>
        <fieldset>
          <legend>Events</legend>
          {WEBHOOK_EVENTS.map((name) => (
            <label key={name} class="check">
              <input
                type="checkbox"
                checked={events.has(name)}
                onChange={(event) => {
                  const next = new Set(events);
                  if (event.currentTarget.checked) next.add(name);
                  else next.delete(name);
                  setEvents(next);
                }}
              />
              {name}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={events.size === 0}>
          Add webhook
        </button>
      </form>
      <ErrorMessage message={error} />
      {secret ? (
        <div class="secret" role="status">
          <CopyField label="Signing secret" value={secret} />
          <p class="hint">Shown only now: verify the Intake-Signature header with it.</p>
          <button type="button" onClick={() => setSecret(null)}>
            I have stored it
          </button>
        </div>
      ) : null}
      <ul class="webhooks">
        {hooks.map((hook) => (
          <li key={hook.id} class="webhook">
            <div class="webhook-head">
              <span class="mono url">{hook.url}</span>
              <StatusBadge status={hook.active ? 'enabled' : 'disabled'} />
            </div>
            <p class="hint">{hook.events.join(', ')}</p>
            <div class="actions">
              <button
                type="button"
                onClick={async () => {
                  const { error: problem, response } = await api.PATCH('/api/v1/webhooks/{id}', {
                    params: { path: { id: hook.id } },
                    body: { active: !hook.active },
                  });
                  if (!response.ok) setError(describeProblem(problem, response));
                  await load();
                }}
              >
                {hook.active ? 'Disable' : 'Enable'}
              </button>
              <button
                type="button"
                onClick={async () => {
                  const { error: problem, response } = await api.POST('/api/v1/webhooks/{id}/test', {
                    params: { path: { id: hook.id } },
                  });
                  setError(response.ok ? null : describeProblem(problem, response));
                  setOpen(hook.id);
                }}
              >
                Send a test
              </button>
              <button type="button" aria-expanded={open === hook.id} onClick={() => setOpen(open === hook.id ? null : hook.id)}>
                Delivery log
              </button>
              <ConfirmButton
                label="Delete"
                confirmLabel="Delete webhook"
                question="Delete this webhook?"
                onConfirm={async () => {
                  const { error: problem, response } = await api.DELETE('/api/v1/webhooks/{id}', {
                    params: { path: { id: hook.id } },
                  });
                  if (!response.ok) setError(describeProblem(problem, response));
                  await load();
                }}
              />
            </div>
            {open === hook.id ? <DeliveryLog webhookId={hook.id} /> : null}
          </li>
        ))}
      </ul>
    </Section>
  );
}

function DeliveryLog({ webhookId }: { webhookId: string }) {
  const [deliveries, setDeliveries] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const {
      data,
      error: problem,
      response,
    } = await api.GET('/api/v1/webhooks/{id}/deliveries', {
      params: { path: { id: webhookId }, query: { limit: 20, offset: 0 } },
    });
    if (data) setDeliveries(data.items);
    else setError(describeProblem(problem, response));
  }, [webhookId]);
  useEffect(() => void load(), [load]);
  return (
    <div class="delivery-log">
      <div class="toolbar">
        <h3>Deliveries</h3>
        <button type="button" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <ErrorMessage message={error} />
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">HTTP</th>
              <th scope="col">Attempts</th>
              <th scope="col">When</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(deliveries ?? []).map((delivery) => (
              <tr key={delivery.id}>
                <td>{delivery.event_type}</td>
                <td>
                  <StatusBadge status={delivery.status} />
                  {delivery.error ? <span class="hint"> {delivery.error}</span> : null}
                </td>
                <td>{delivery.status_code ?? '—'}</td>
                <td class="number">{delivery.attempt}</td>
                <td>{formatDate(delivery.created_at)}</td>
                <td>
                  <button
                    type="button"
                    onClick={async () => {
                      const { error: problem, response } = await api.POST(
                        '/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver',
                        {
                          params: { path: { id: webhookId, delivery_id: delivery.id } },
                        },
                      );
                      setError(response.ok ? null : describeProblem(problem, response));
                      await load();
                    }}
                  >
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
            {deliveries && deliveries.length === 0 ? (
              <tr>
                <td colSpan={6} class="empty">
                  No deliveries yet.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
    </div>
  );
}
