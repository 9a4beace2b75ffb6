import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';

type Standing = paths['/api/v1/users/me/email-verification']['get']['responses'][200]['content']['application/json'];

/** "Verify your e-mail" for a signed-in account whose address (or new address) is not proven yet. */
export function VerifyEmailBanner({ email }: { email: string }) {
  const [standing, setStanding] = useState<Standing | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void api.GET('/api/v1/users/me/email-verification').then(({ data }) => setStanding(data ?? null));
  }, [email]);
  if (!standing || standing.mode === 'off' || (standing.email_verified && !standing.pending_email)) return null;

  const address = standing.pending_email ?? email;
  return (
    <div class="banner" role="region" aria-label="Verify your e-mail">
      <p>
        {standing.pending_email
          ? `Your new address ${address} takes effect once you follow the link we sent to it.`
          : `Verify your e-mail: follow the link we sent to ${address}.`}
        {standing.mode === 'required' && !standing.email_verified ? ' Until then, the rest of the console stays closed.' : ''}
      </p>
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          const { data, error, response } = await api.POST('/api/v1/auth/verify-email/resend');
          setBusy(false);
          setMessage(
            data ? { text: 'A new link is on its way.', error: false } : { text: describeProblem(error, response), error: true },
          );
        }}
      >
        Send the link again
      </button>
      {message ? (
        <p class={message.error ? 'error' : 'notice'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      ) : null}
    </div>
  );
}
