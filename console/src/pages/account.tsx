import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ErrorMessage, Notice, Section } from '../components/common';
import { formatDate } from '../format';
import { useSession } from '../session';
import { Sessions } from './account-sessions';
import { TwoFactor } from './account-two-factor';
import { LinkedIdentities } from './account-identities';

export function AccountPage() {
  useEffect(() => {
    document.title = 'Account · Intake';
  }, []);
  return (
    <div class="page">
      <h1>Account</h1>
      <Profile />
      <ChangePassword />
      <TwoFactor />
      <Sessions />
      <LinkedIdentities />
      <Notifications />
    </div>
  );
}

function Profile() {
  const { me, setMe } = useSession();
  const [fullName, setFullName] = useState(me.full_name ?? '');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  return (
    <Section title="Profile">
      <dl class="details">
        <dt>Email</dt>
        <dd>{me.email}</dd>
        <dt>Role</dt>
        <dd>{me.role}</dd>
        <dt>Member since</dt>
        <dd>{formatDate(me.created_at)}</dd>
      </dl>
      <form
        class="inline-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const { data, error: problem, response } = await api.PATCH('/api/v1/users/me', { body: { full_name: fullName } });
          if (data) {
            setMe(data);
            setSaved('Profile saved.');
            setError(null);
          } else setError(describeProblem(problem, response));
        }}
      >
        <div class="field">
          <label for="profile-name">Full name</label>
          <input
            id="profile-name"
            autoComplete="name"
            value={fullName}
            onInput={(event) => setFullName(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Save</button>
      </form>
      <ErrorMessage message={error} />
      <Notice message={saved} />
    </Section>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  return (
    <Section title="Change password">
      <form
        class="stack-form"
        onSubmit={async (event) => {
          event.preventDefault();
          const { error: problem, response } = await api.POST('/api/v1/users/me/password', {
            body: { current_password: current, new_password: next },
          });
          if (response.ok) {
            setDone('Password changed. Your other sessions have been signed out.');
            setError(null);
            setCurrent('');
            setNext('');
          } else setError(describeProblem(problem, response));
        }}
      >
        <input type="text" autoComplete="username" class="visually-hidden" tabIndex={-1} aria-hidden="true" value="" readOnly />
        <div class="field">
          <label for="current-password">Current password</label>
          <input
            id="current-password"
            type="password"
            autoComplete="current-password"
            required
            value={current}
            onInput={(event) => setCurrent(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="new-password">New password</label>
          <input
            id="new-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            maxLength={128}
            value={next}
            onInput={(event) => setNext(event.currentTarget.value)}
          />
        </div>
        <button type="submit">Change password</button>
      </form>
      <ErrorMessage message={error} />
      <Notice message={done} />
    </Section>
  );
}

function Notifications() {
  const [enabled, setEnabled] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    void (async () => {
      const { data, error: problem, response } = await api.GET('/api/v1/users/me/notifications');
      if (data) setEnabled(data.email_on_file_finished);
      else setError(describeProblem(problem, response));
    })();
  }, []);
  return (
    <Section title="E-mail notifications">
      {enabled === null ? null : (
        <label class="check">
          <input
            type="checkbox"
            checked={enabled}
            onChange={async (event) => {
              const value = event.currentTarget.checked;
              const {
                data,
                error: problem,
                response,
              } = await api.PUT('/api/v1/users/me/notifications', { body: { email_on_file_finished: value } });
              if (data) {
                setEnabled(data.email_on_file_finished);
                setSaved('Saved.');
                setError(null);
              } else setError(describeProblem(problem, response));
            }}
          />
          E-mail me when one of my files has been processed or has failed
        </label>
      )}
      <ErrorMessage message={error} />
      <Notice message={saved} />
    </Section>
  );
}
