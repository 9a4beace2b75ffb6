import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ErrorMessage, Notice } from '../components/common';

/** The forgotten-password page (`/reset-password`), and the link mailed from it (`/reset-password#token=…`). */
export const isResetPasswordLocation = () => location.pathname === '/reset-password';

/** The `#token=…` of a mailed link. */
export function tokenFromLocation(): string | null {
  return new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
}

export function ResetPasswordPage() {
  const [token, setToken] = useState(tokenFromLocation);
  useEffect(() => {
    document.title = 'Reset your password · Intake';
    // A link opened in a tab already on this page changes only the hash.
    const changed = () => setToken(tokenFromLocation() ?? token);
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  useEffect(() => {
    // The token is a credential: keep it out of the address bar and the history.
    if (token && location.hash) history.replaceState(null, '', location.pathname);
  }, [token]);
  return (
    <main id="main" class="centered">
      {token ? <ChooseNewPassword token={token} /> : <AskForLink />}
    </main>
  );
}

function AskForLink() {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <form
      class="card auth-card"
      aria-labelledby="reset-title"
      onSubmit={async (event) => {
        event.preventDefault();
        const { data, error: problem, response } = await api.POST('/api/v1/auth/password-reset', { body: { email } });
        if (data) {
          setNotice(`${data.detail} Check your inbox.`);
          setError(null);
        } else setError(describeProblem(problem, response));
      }}
    >
      <h1 id="reset-title">Forgot your password?</h1>
      <p>Give the e-mail address of your account; we send a link to choose a new password.</p>
      <div class="field">
        <label for="reset-email">Email</label>
        <input
          id="reset-email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onInput={(event) => setEmail(event.currentTarget.value)}
        />
      </div>
      <button type="submit" class="primary">
        Send the link
      </button>
      <ErrorMessage message={error} />
      <Notice message={notice} />
      <p>
        <a href="/">Back to sign in</a>
      </p>
    </form>
  );
}

function ChooseNewPassword({ token }: { token: string }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  if (done) {
    return (
      <div class="card auth-card">
        <h1>Password changed</h1>
        <p>Every session of your account was signed out. Sign in with your new password.</p>
        <p>
          <a href="/">Sign in</a>
        </p>
      </div>
    );
  }
  return (
    <form
      class="card auth-card"
      aria-labelledby="new-password-title"
      onSubmit={async (event) => {
        event.preventDefault();
        const { error: problem, response } = await api.POST('/api/v1/auth/password-reset/confirm', {
          body: { token, new_password: password },
        });
        if (response.ok) setDone(true);
        else setError(describeProblem(problem, response));
      }}
    >
      <h1 id="new-password-title">Choose a new password</h1>
      <div class="field">
        <label for="new-password">New password</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          minLength={8}
          maxLength={128}
          required
          value={password}
          onInput={(event) => setPassword(event.currentTarget.value)}
        />
      </div>
      <button type="submit" class="primary">
        Set the password
      </button>
      <ErrorMessage message={error} />
    </form>
  );
}
