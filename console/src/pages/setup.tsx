import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ErrorMessage } from '../components/common';

/** The one-time token of the setup link `intake serve` prints: `/setup#token=…` (a fragment never reaches a server log). */
export function setupTokenFromLocation(): string | null {
  return new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
}

export const isSetupLocation = () => location.pathname === '/setup' || setupTokenFromLocation() !== null;

type SetupState = { needs_setup: boolean; token_required: boolean };

/**
 * First run: creates the first administrator, from this machine without a token, or from
 * elsewhere with the link the server printed. Then signs in and opens the console.
 */
export function SetupPage() {
  const [state, setState] = useState<SetupState | null>(null);
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [fullName, setFullName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const token = setupTokenFromLocation();

  useEffect(() => {
    document.title = 'Create the administrator · Intake';
    void (async () => {
      const { data, error: problem, response } = await api.GET('/api/v1/setup');
      if (data) setState(data);
      else setError(describeProblem(problem, response));
    })();
  }, []);

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.POST('/api/v1/setup/admin', {
        body: { email, password, ...(fullName ? { full_name: fullName } : {}), ...(token ? { setup_token: token } : {}) },
      });
      if (created.error || !created.response.ok) {
        setError(describeProblem(created.error, created.response));
        return;
      }
      const signedIn = await api.POST('/api/v1/auth/login', { body: { email, password } });
      if (!signedIn.data) {
        setError(describeProblem(signedIn.error, signedIn.response));
        return;
      }
      // Leave /setup and its token behind: the console proper starts from `/`.
      location.replace('/#/admin');
    } finally {
      setBusy(false);
    }
  }

  let body;
  if (!state) body = <p aria-busy="true">Checking…</p>;
  else if (!state.needs_setup) {
    body = (
      <p>
        An administrator already exists. <a href="/">Sign in</a>.
      </p>
    );
  } else if (state.token_required && !token) {
    body = (
      <p>
        Open the setup link that <code>intake serve</code> printed in its log (it holds a one-time token), or open the console
        from the machine the server runs on.
      </p>
    );
  } else {
    body = (
      <form onSubmit={submit}>
        <div class="field">
          <label for="setup-name">Full name (optional)</label>
          <input
            id="setup-name"
            autoComplete="name"
            value={fullName}
            onInput={(event) => setFullName(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="setup-email">Email</label>
          <input
            id="setup-email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onInput={(event) => setEmail(event.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="setup-password">Password</label>
          <input
            id="setup-password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            maxLength={128}
            value={password}
            onInput={(event) => setPassword(event.currentTarget.value)}
            aria-describedby="setup-password-hint"
          />
          <p class="hint" id="setup-password-hint">
            8 to 128 characters. An existing account with this email and password is promoted instead.
          </p>
        </div>
        <ErrorMessage message={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Please wait…' : 'Create the administrator'}
        </button>
      </form>
    );
  }
  return (
    <main id="main" class="centered">
      <section class="card auth-card" aria-labelledby="setup-title">
        <p class="brand">Intake</p>
        <h1 id="setup-title">Create the administrator</h1>
        <p>No administrator exists yet. The first one manages users and the job queues.</p>
        {state ? null : <ErrorMessage message={error} />}
        {body}
      </section>
    </main>
  );
}
