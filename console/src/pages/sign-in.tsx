import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem, scheduleRefresh } from '../api/client';
import { ErrorMessage, Notice } from '../components/common';
import type { Me } from '../session';
import { TwoFactorChallenge } from './two-factor-challenge';
import { ProviderButtons } from './sign-in-providers';

type Mode = 'sign-in' | 'register';

/**
 * A provider sign-in of an account with two-factor on comes back as `#/two-factor?challenge=…`
 * (a fragment: never sent to the server). Taken once, then cleared from the address bar.
 */
function challengeFromProvider(): { token: string } | null {
  const match = /^#\/two-factor\?challenge=([^&]+)$/.exec(location.hash);
  if (!match?.[1]) return null;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  return { token: decodeURIComponent(match[1]) };
}

export function SignInPage({ notice, onSignedIn }: { notice: string | null; onSignedIn: (me: Me) => void }) {
  const [mode, setMode] = useState<Mode>('sign-in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [fullName, setFullName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [challenge, setChallenge] = useState<{ token: string } | null>(challengeFromProvider);
  const [challengeNotice, setChallengeNotice] = useState<string | null>(null);

  const [needsAdmin, setNeedsAdmin] = useState(false);
  useEffect(() => {
    void api
      .GET('/api/v1/setup')
      .then(({ data }) => setNeedsAdmin(data !== undefined && data.needs_setup && !data.token_required));
  }, []);

  useEffect(() => {
    document.title = mode === 'sign-in' ? 'Sign in · Intake' : 'Create account · Intake';
  }, [mode]);

  async function signIn(): Promise<void> {
    const { data, error: problem, response } = await api.POST('/api/v1/auth/login', { body: { email, password } });
    if (!data) {
      setError(describeProblem(problem, response));
      return;
    }
    if ('two_factor_required' in data) {
      setChallenge({ token: data.challenge_token });
      return;
    }
    scheduleRefresh(data.expires_in);
    onSignedIn(data.user);
  }

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'register') {
        const { error: problem, response } = await api.POST('/api/v1/auth/register', {
          body: { email, password, ...(fullName ? { full_name: fullName } : {}) },
        });
        if (!response.ok) {
          setError(describeProblem(problem, response));
          return;
        }
      }
      await signIn();
    } catch {
      setError('The service cannot be reached. Check your connection and try again.');
    } finally {
      setBusy(false);
    }
  }

  const title = mode === 'sign-in' ? 'Sign in' : 'Create an account';
  if (challenge) {
    return (
      <TwoFactorChallenge
        challengeToken={challenge.token}
        onSignedIn={onSignedIn}
        onCancel={(message) => {
          setChallenge(null);
          setPassword('');
          setChallengeNotice(message);
        }}
      />
    );
  }
  return (
    <main id="main" class="centered">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="auth-title" noValidate={false}>
        <p class="brand">Intake</p>
        <h1 id="auth-title">{title}</h1>
        <Notice message={challengeNotice ?? notice} />
        {needsAdmin ? (
          <p class="notice">
            No administrator exists yet. <a href="/setup">Create the administrator</a>.
          </p>
        ) : null}
        {mode === 'register' ? (
          <div class="field">
            <label for="full-name">Full name (optional)</label>
            <input
              id="full-name"
              name="full_name"
              autoComplete="name"
              value={fullName}
              onInput={(event) => setFullName(event.currentTarget.value)}
            />
          </div>
        ) : null}
        <div class="field">
          <label for="email">Email</label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="username"
            required
            value={email}
            onInput={(event) => setEmail(event.currentTarget.value)}
            aria-describedby={error ? 'auth-error' : undefined}
          />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete={mode === 'sign-in' ? 'current-password' : 'new-password'}
            required
            minLength={mode === 'register' ? 8 : undefined}
            maxLength={128}
            value={password}
            onInput={(event) => setPassword(event.currentTarget.value)}
            aria-describedby={mode === 'register' ? 'password-hint' : undefined}
          />
          {mode === 'register' ? (
            <p class="hint" id="password-hint">
              8 to 128 characters.
            </p>
          ) : null}
        </div>
        <ErrorMessage message={error} id="auth-error" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Please wait…' : title}
        </button>
        <ProviderButtons />
        <p class="switch">
          {mode === 'sign-in' ? 'New here? ' : 'Already have an account? '}
          <button
            type="button"
            class="link"
            onClick={() => {
              setMode(mode === 'sign-in' ? 'register' : 'sign-in');
              setError(null);
            }}
          >
            {mode === 'sign-in' ? 'Create an account' : 'Sign in instead'}
          </button>
        </p>
        {mode === 'sign-in' ? (
          <p class="switch">
            <a href="/reset-password">Forgot your password?</a>
          </p>
        ) : null}
      </form>
    </main>
  );
}
