import { useEffect, useState } from 'preact/hooks';
import { api, describeProblem } from '../api/client';
import type { paths } from '../api/schema';
import { CopyField, ErrorMessage, Notice, Section } from '../components/common';
import { formatDate } from '../format';

type Status = paths['/api/v1/users/me/two-factor']['get']['responses'][200]['content']['application/json'];
type Enrolment = paths['/api/v1/users/me/two-factor']['post']['responses'][201]['content']['application/json'];

/**
 * Two-factor on the Account page: enrol (QR code, confirm with a first code), the recovery codes
 * shown once, and turning it off with the password and a code.
 */
export function TwoFactor() {
  const [status, setStatus] = useState<Status | null>(null);
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [recoveryCodes, setRecoveryCodes] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = async () => {
    const { data, error: problem, response } = await api.GET('/api/v1/users/me/two-factor');
    if (data) setStatus(data);
    else setError(describeProblem(problem, response));
  };
  useEffect(() => {
    void load();
  }, []);

  const start = async () => {
    setNotice(null);
    const { data, error: problem, response } = await api.POST('/api/v1/users/me/two-factor');
    if (data) {
      setEnrolment(data);
      setError(null);
    } else setError(describeProblem(problem, response));
  };

  let body;
  if (recoveryCodes) {
    body = (
      <RecoveryCodes
        codes={recoveryCodes}
        onDone={() => {
          setRecoveryCodes(null);
          void load();
        }}
      />
    );
  } else if (enrolment) {
    body = (
      <Confirm
        enrolment={enrolment}
        onConfirmed={(codes) => {
          setEnrolment(null);
          setRecoveryCodes(codes);
        }}
        onCancel={() => setEnrolment(null)}
      />
    );
  } else if (status?.enabled) {
    body = (
      <>
        <p>
          On since {status.enabled_at ? formatDate(status.enabled_at) : '—'}. Recovery codes left: {status.recovery_codes_left}.
        </p>
        <Disable
          onDisabled={() => {
            setNotice('Two-factor authentication is off.');
            void load();
          }}
        />
      </>
    );
  } else if (status) {
    body = (
      <>
        {status.required ? (
          <p class="notice" role="status">
            This server requires two-factor authentication for administrators: the admin pages stay closed to you until you turn
            it on.
          </p>
        ) : null}
        <p>Off. With it on, signing in also asks for a code from an authenticator app on your phone.</p>
        <button type="button" class="primary" onClick={() => void start()}>
          Turn on two-factor authentication
        </button>
      </>
    );
  }

  return (
    <Section title="Two-factor authentication">
      {body}
      <ErrorMessage message={error} />
      <Notice message={notice} />
    </Section>
  );
}

function Confirm(props: { enrolment: Enrolment; onConfirmed: (codes: string[]) => void; onCancel: () => void }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  // Through an <img> (data: URI) rather than injected markup: the SVG never becomes part of the page.
  const qr = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(props.enrolment.qr_svg)}`;
  return (
    <form
      class="stack-form"
      onSubmit={async (event) => {
        event.preventDefault();
        const {
          data,
          error: problem,
          response,
        } = await api.POST('/api/v1/users/me/two-factor/confirm', {
          body: { code: code.trim() },
        });
        if (data) props.onConfirmed(data.recovery_codes);
        else setError(describeProblem(problem, response));
      }}
    >
      <p>Scan this code with your authenticator app, then enter the 6-digit code it shows.</p>
      <img class="qr-code" src={qr} width={200} height={200} alt="QR code of the two-factor secret for your authenticator app" />
      <CopyField label="Or type this key" value={props.enrolment.secret} />
      <div class="field">
        <label for="enrol-code">Code from the app</label>
        <input
          id="enrol-code"
          autoComplete="one-time-code"
          inputMode="numeric"
          required
          minLength={6}
          maxLength={6}
          value={code}
          onInput={(event) => setCode(event.currentTarget.value)}
        />
      </div>
      <ErrorMessage message={error} />
      <div class="actions">
        <button type="submit" class="primary">
          Confirm
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <div>
      <p class="notice" role="status">
        Two-factor authentication is on. Keep these recovery codes somewhere safe: each one signs you in once without the app.
        They are shown only now.
      </p>
      <ul class="recovery-codes" aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ul>
      <CopyField label="All recovery codes" value={codes.join(' ')} />
      <button type="button" class="primary" onClick={onDone}>
        I have saved them
      </button>
    </div>
  );
}

function Disable({ onDisabled }: { onDisabled: () => void }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="stack-form"
      aria-label="Turn off two-factor authentication"
      onSubmit={async (event) => {
        event.preventDefault();
        const { error: problem, response } = await api.POST('/api/v1/users/me/two-factor/disable', {
          body: { password, code: code.trim() },
        });
        if (response.ok) onDisabled();
        else setError(describeProblem(problem, response));
      }}
    >
      <input type="text" autoComplete="username" class="visually-hidden" tabIndex={-1} aria-hidden="true" value="" readOnly />
      <div class="field">
        <label for="disable-password">Password</label>
        <input
          id="disable-password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(event) => setPassword(event.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="disable-code">Code from the app, or a recovery code</label>
        <input
          id="disable-code"
          autoComplete="one-time-code"
          required
          minLength={6}
          maxLength={32}
          value={code}
          onInput={(event) => setCode(event.currentTarget.value)}
        />
      </div>
      <ErrorMessage message={error} />
      <button type="submit" class="danger">
        Turn off two-factor authentication
      </button>
    </form>
  );
}
