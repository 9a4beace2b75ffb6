import { useEffect, useRef, useState } from 'preact/hooks';
import { api, describeProblem, scheduleRefresh } from '../api/client';
import { ErrorMessage } from '../components/common';
import type { Me } from '../session';

/** The sign-in step after a correct password, for an account with two-factor on. */
export function TwoFactorChallenge({
  challengeToken,
  onSignedIn,
  onCancel,
}: {
  challengeToken: string;
  onSignedIn: (me: Me) => void;
  onCancel: (notice: string | null) => void;
}) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    document.title = 'Two-factor code · Intake';
    input.current?.focus();
  }, []);

  async function submit(event: Event): Promise<void> {
    event.preventDefault();
    setBusy(true);
    try {
      const {
        data,
        error: problem,
        response,
      } = await api.POST('/api/v1/auth/login/two-factor', {
        body: { challenge_token: challengeToken, code: code.trim() },
      });
      if (data) {
        scheduleRefresh(data.expires_in);
        onSignedIn(data.user);
        return;
      }
      // An expired or spent challenge cannot be retried: back to the password.
      if ((problem as { code?: string } | undefined)?.code === 'two_factor_challenge_invalid') {
        onCancel('The sign-in took too long. Enter your password again.');
        return;
      }
      setError(describeProblem(problem, response));
      setCode('');
      input.current?.focus();
    } catch {
      setError('The service cannot be reached. Check your connection and try again.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="centered">
      <form class="card auth-card" onSubmit={submit} aria-labelledby="challenge-title">
        <p class="brand">Intake</p>
        <h1 id="challenge-title">Two-factor code</h1>
        <p>Enter the 6-digit code your authenticator app shows, or one of your recovery codes.</p>
        <div class="field">
          <label for="two-factor-code">Code</label>
          <input
            id="two-factor-code"
            ref={input}
            name="code"
            autoComplete="one-time-code"
            inputMode="text"
            required
            minLength={6}
            maxLength={32}
            value={code}
            onInput={(event) => setCode(event.currentTarget.value)}
            aria-describedby={error ? 'challenge-error' : undefined}
          />
        </div>
        <ErrorMessage message={error} id="challenge-error" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Please wait…' : 'Verify'}
        </button>
        <p class="switch">
          <button type="button" class="link" onClick={() => onCancel(null)}>
            Cancel and sign in again
          </button>
        </p>
      </form>
    </main>
  );
}
