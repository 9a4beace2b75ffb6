import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ConfirmButton, ErrorMessage, Notice, Section } from '../components/common';
import { formatDate } from '../format';

type SessionItem = Awaited<ReturnType<typeof loadSessions>>[number];

async function loadSessions() {
  const { data, error, response } = await api.GET('/api/v1/users/me/sessions');
  if (!data) throw new Error(describeProblem(error, response));
  return data.items;
}

/** Where I am signed in, and the way to end the other sessions. */
export function Sessions() {
  const [items, setItems] = useState<SessionItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const reload = () =>
    loadSessions().then(
      (loaded) => setItems(loaded),
      (problem: Error) => setError(problem.message),
    );
  useEffect(() => {
    void reload();
  }, []);

  const end = async (id: string | null) => {
    const { error: problem, response } =
      id === null
        ? await api.DELETE('/api/v1/users/me/sessions')
        : await api.DELETE('/api/v1/users/me/sessions/{id}', { params: { path: { id } } });
    if (response.ok) {
      setNotice(id === null ? 'Signed out everywhere else.' : 'That session is signed out.');
      setError(null);
      await reload();
    } else setError(describeProblem(problem, response));
  };

  const others = (items ?? []).filter((item) => !item.current).length;
  return (
    <Section title="Sessions">
      <p>Where your account is signed in. Ending a session stops its access at once; API keys are not affected.</p>
      <div class="table-scroll">
        <table class="sessions">
          <caption class="visually-hidden">Signed-in sessions</caption>
          <thead>
            <tr>
              <th scope="col">Device</th>
              <th scope="col">Address</th>
              <th scope="col">Signed in</th>
              <th scope="col">Last active</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(items ?? []).map((item) => (
              <tr key={item.id}>
                <td>
                  {item.device}
                  {item.current ? (
                    <>
                      {' '}
                      <span class="badge">(this session)</span>
                    </>
                  ) : null}
                </td>
                <td>{item.ip ?? '—'}</td>
                <td>{formatDate(item.created_at)}</td>
                <td>{formatDate(item.last_used_at)}</td>
                <td>
                  {item.current ? null : (
                    <ConfirmButton
                      label="Sign out"
                      accessibleLabel={`Sign out ${item.device}`}
                      confirmLabel="Yes, sign out"
                      question="Sign this session out?"
                      onConfirm={() => end(item.id)}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {others > 0 ? (
        <ConfirmButton
          label="Sign out everywhere else"
          confirmLabel="Yes, sign out the others"
          question={`Sign out ${others} other session${others === 1 ? '' : 's'}?`}
          onConfirm={() => end(null)}
        />
      ) : null}
      <ErrorMessage message={error} />
      <Notice message={notice} />
    </Section>
  );
}
