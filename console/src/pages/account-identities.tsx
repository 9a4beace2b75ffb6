import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ConfirmButton, ErrorMessage, Notice, Section } from '../components/common';
import { formatDate } from '../format';
import { useProviders } from './sign-in-providers';

type Identities = Awaited<ReturnType<typeof loadIdentities>>;

async function loadIdentities() {
  const { data, error, response } = await api.GET('/api/v1/users/me/identities');
  if (!data) throw new Error(describeProblem(error, response));
  return data;
}

/** Provider accounts that sign in as me: link another, or unlink one (never the last way in). */
export function LinkedIdentities() {
  const providers = useProviders();
  const [identities, setIdentities] = useState<Identities | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const reload = () =>
    loadIdentities().then(
      (loaded) => setIdentities(loaded),
      (problem: Error) => setError(problem.message),
    );
  useEffect(() => {
    void reload();
  }, []);
  if (providers.length === 0 && (identities?.items.length ?? 0) === 0) return null;

  const labelOf = (name: string) => providers.find((provider) => provider.name === name)?.label ?? name;
  const link = async (provider: string) => {
    const {
      data,
      error: problem,
      response,
    } = await api.POST('/api/v1/users/me/identities', {
      body: { provider, return_to: `${location.pathname}${location.hash}` },
    });
    if (data) location.assign(data.authorization_url);
    else setError(describeProblem(problem, response));
  };
  const unlink = async (id: string) => {
    const { error: problem, response } = await api.DELETE('/api/v1/users/me/identities/{id}', { params: { path: { id } } });
    if (response.ok) {
      setNotice('Unlinked.');
      setError(null);
      await reload();
    } else setError(describeProblem(problem, response));
  };

  const items = identities?.items ?? [];
  return (
    <Section title="Linked sign-in providers">
      {items.length === 0 ? (
        <p>No provider account is linked.</p>
      ) : (
        <ul class="identities">
          {items.map((item) => (
            <li key={item.id}>
              <strong>{labelOf(item.provider)}</strong> {item.email ?? ''} · linked {formatDate(item.created_at)}{' '}
              <ConfirmButton
                label="Unlink"
                accessibleLabel={`Unlink ${labelOf(item.provider)}`}
                confirmLabel="Yes, unlink"
                question={`Stop signing in with ${labelOf(item.provider)}?`}
                onConfirm={() => unlink(item.id)}
              />
            </li>
          ))}
        </ul>
      )}
      {providers.map((provider) => (
        <button key={provider.name} type="button" onClick={() => link(provider.name)}>
          Link {provider.label}
        </button>
      ))}
      <ErrorMessage message={error} />
      <Notice message={notice} />
    </Section>
  );
}
