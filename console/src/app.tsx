import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, onSessionExpired, refreshSession, stopRefreshing } from './api/client';
import { liveEvents } from './api/realtime';
import { AccountPage } from './pages/account';
import { AdminPage } from './pages/admin';
import { AdminAuditPage } from './pages/admin-audit';
import { isResetPasswordLocation, ResetPasswordPage } from './pages/reset-password';
import { DeveloperPage } from './pages/developer';
import { FilePage } from './pages/file';
import { FilesPage } from './pages/files';
import { isSetupLocation, SetupPage } from './pages/setup';
import { isVerifyEmailLocation, VerifyEmailPage } from './pages/verify-email';
import { VerifyEmailBanner } from './components/verify-email-banner';
import { SignInPage } from './pages/sign-in';
import { href, navigate, useRoute } from './router';
import { SessionContext, type Me, type SessionState } from './session';

type Phase = { kind: 'loading' } | { kind: 'signed-out'; notice: string | null } | { kind: 'signed-in'; me: Me };

export function App() {
  const [phase, setPhase] = useState<Phase>({ kind: 'loading' });
  const route = useRoute();

  useEffect(() => {
    // An expired session keeps the current hash, so signing in again returns to the same page.
    onSessionExpired(() => {
      liveEvents.stop();
      stopRefreshing();
      setPhase({ kind: 'signed-out', notice: 'Your session has ended. Sign in again to continue where you were.' });
    });
    void (async () => {
      const { data } = await api.GET('/api/v1/users/me');
      if (data) {
        // The access cookie's lifetime is unknown after a reload: renew now, which also starts the timer.
        await refreshSession();
        setPhase({ kind: 'signed-in', me: data });
      } else {
        setPhase({ kind: 'signed-out', notice: null });
      }
    })();
  }, []);

  useEffect(() => {
    if (phase.kind === 'signed-in') liveEvents.start();
  }, [phase.kind]);

  const session = useMemo<SessionState | null>(() => {
    if (phase.kind !== 'signed-in') return null;
    return {
      me: phase.me,
      setMe: (me) => setPhase({ kind: 'signed-in', me }),
      signOut: async () => {
        await api.POST('/api/v1/auth/logout');
        liveEvents.stop();
        stopRefreshing();
        setPhase({ kind: 'signed-out', notice: 'You have signed out.' });
        navigate('files');
      },
    };
  }, [phase]);

  // The first-run link (`/setup#token=…`) works whoever is signed in, or nobody.
  // Before setup's check, which takes any `#token=` for a setup token.
  if (isResetPasswordLocation()) return <ResetPasswordPage />;
  if (isVerifyEmailLocation()) return <VerifyEmailPage />;
  if (isSetupLocation()) return <SetupPage />;
  if (phase.kind === 'loading') {
    return (
      <main id="main" class="centered" aria-busy="true">
        <p>Loading…</p>
      </main>
    );
  }
  if (phase.kind === 'signed-out' || !session) {
    return (
      <SignInPage
        notice={phase.kind === 'signed-out' ? phase.notice : null}
        onSignedIn={(me) => setPhase({ kind: 'signed-in', me })}
      />
    );
  }

  const [section = 'files', id] = route;
  let page;
  if (section === 'files' && id) page = <FilePage key={id} fileId={id} />;
  else if (section === 'developer') page = <DeveloperPage />;
  else if (section === 'account') page = <AccountPage />;
  else if (section === 'admin' && session.me.role === 'admin') page = <AdminPage />;
  else if (section === 'audit' && session.me.role === 'admin') page = <AdminAuditPage />;
  else page = <FilesPage />;

  return (
    <SessionContext.Provider value={session}>
      <a
        class="skip-link"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href('files')}>
          Intake
        </a>
        <nav aria-label="Main">
          <ul>
            <NavLink to="files" current={section === 'files'} label="Files" />
            <NavLink to="developer" current={section === 'developer'} label="Developer" />
            <NavLink to="account" current={section === 'account'} label="Account" />
            {session.me.role === 'admin' ? <NavLink to="admin" current={section === 'admin'} label="Admin" /> : null}
            {session.me.role === 'admin' ? <NavLink to="audit" current={section === 'audit'} label="Audit" /> : null}
          </ul>
        </nav>
        <div class="who">
          <span class="email">{session.me.email}</span>
          <button type="button" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <VerifyEmailBanner email={session.me.email} />
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </SessionContext.Provider>
  );
}

function NavLink({ to, current, label }: { to: string; current: boolean; label: string }) {
  return (
    <li>
      <a href={href(to)} aria-current={current ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
}
