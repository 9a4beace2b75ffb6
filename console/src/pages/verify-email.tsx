import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import { ErrorMessage } from '../components/common';
import { tokenFromLocation } from './reset-password';

/** Where the mailed verification link lands (`/verify-email#token=…`). */
export const isVerifyEmailLocation = () => location.pathname === '/verify-email';

export function VerifyEmailPage() {
  const [state, setState] = useState<{ kind: 'working' } | { kind: 'done' } | { kind: 'failed'; message: string }>({
    kind: 'working',
  });
  useEffect(() => {
    document.title = 'Verify your e-mail · Intake';
    const token = tokenFromLocation();
    // The token is a credential: keep it out of the address bar and the history.
    history.replaceState(null, '', location.pathname);
    if (!token) {
      setState({ kind: 'failed', message: 'This link carries no token; open the link from the e-mail again.' });
      return;
    }
    void api.POST('/api/v1/auth/verify-email', { body: { token } }).then(({ error, response }) => {
      setState(response.ok ? { kind: 'done' } : { kind: 'failed', message: describeProblem(error, response) });
    });
  }, []);
  return (
    <main id="main" class="centered">
      <div class="card auth-card" aria-busy={state.kind === 'working'}>
        <h1>{state.kind === 'done' ? 'E-mail address verified' : 'Verify your e-mail'}</h1>
        {state.kind === 'working' ? <p>Checking the link…</p> : null}
        {state.kind === 'done' ? <p role="status">Thank you: your address is proven.</p> : null}
        {state.kind === 'failed' ? <ErrorMessage message={state.message} /> : null}
        <p>
          <a href="/">Go to the console</a>
        </p>
      </div>
    </main>
  );
}
