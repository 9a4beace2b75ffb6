import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../../src/audit/audit.schema.ts';
import { users } from '../../src/users/user.schema.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { startLoopbackIssuer, type LoopbackIssuer } from '../helpers/oidc-issuer.ts';

const PUBLIC_URL = 'http://127.0.0.1:8000';
const callbackOf = (provider: string) => `${PUBLIC_URL}/api/v1/auth/oidc/${provider}/callback`;

/** GitHub's three endpoints, faked on loopback (an external service): it checks PKCE like GitHub does. */
async function startFakeGithub(profile: { id: number; emails: { email: string; verified: boolean; primary: boolean }[] }) {
  const codes = new Map<string, string>();
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://github.invalid');
    const send = (body: unknown) => response.setHeader('content-type', 'application/json').end(JSON.stringify(body));
    if (request.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      let raw = '';
      request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      request.on('end', () => {
        const form = new URLSearchParams(raw);
        const challenge = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        const verifier = createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url');
        send(
          challenge && challenge === verifier
            ? { access_token: 'gho_fake', token_type: 'bearer' }
            : { error: 'bad_verification_code' },
        );
      });
      return;
    }
    if (request.headers.authorization !== 'Bearer gho_fake') return void response.writeHead(401).end();
    if (url.pathname === '/user') return send({ id: profile.id, login: 'octo', name: 'Octo Cat', email: null });
    if (url.pathname === '/user/emails') return send(profile.emails);
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** What GitHub's authorize page does once the person agrees: a code bound to the PKCE challenge. */
    grant(challenge: string, code: string) {
      codes.set(code, challenge);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('sign-in with an identity provider', () => {
  let issuer: LoopbackIssuer;
  let other: LoopbackIssuer;
  let github: Awaited<ReturnType<typeof startFakeGithub>>;
  let subject: TestApp;
  /** Set by a test to stand between Intake and the issuer's token endpoint. */
  let swapIdToken: ((body: Record<string, unknown>) => Promise<Record<string, unknown>>) | undefined;

  beforeAll(async () => {
    issuer = await startLoopbackIssuer([callbackOf('corp')]);
    other = await startLoopbackIssuer([callbackOf('corp')]);
    github = await startFakeGithub({
      id: 4242,
      emails: [
        { email: 'octo@old.example.test', verified: false, primary: false },
        { email: 'octo@example.test', verified: true, primary: true },
      ],
    });
    const providerFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const url = input instanceof Request ? input.url : String(input);
      if (!swapIdToken || !url.endsWith('/token')) return response;
      const body = await swapIdToken((await response.json()) as Record<string, unknown>);
      return new Response(JSON.stringify(body), { status: response.status, headers: { 'content-type': 'application/json' } });
    };
    subject = await createTestApp({
      env: {
        PUBLIC_URL,
        OIDC_PROVIDERS: 'corp,github',
        OIDC_CORP_ISSUER: issuer.issuer,
        OIDC_CORP_CLIENT_ID: issuer.clientId,
        OIDC_CORP_CLIENT_SECRET: issuer.clientSecret,
        OIDC_CORP_LABEL: 'Corp SSO',
        OIDC_GITHUB_CLIENT_ID: 'gh-client',
        OIDC_GITHUB_CLIENT_SECRET: 'gh-secret',
        OIDC_GITHUB_WEB_URL: github.url,
        OIDC_GITHUB_API_URL: github.url,
      },
      overrides: { providerFetch },
    });
    // Discovery is lazy: `other` only serves ID tokens to hand over.
    other.accounts.set('mallory', { email: 'mallory@example.test', email_verified: true });
  });
  afterAll(async () => {
    await subject?.close();
    await issuer?.close();
    await other?.close();
    await github?.close();
  });

  /** GET /auth/oidc/{provider}: the provider's URL, and the flow cookie the browser keeps. */
  async function start(provider = 'corp', returnTo?: string) {
    const query = returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`;
    const response = await subject.app.inject({ method: 'GET', url: `/api/v1/auth/oidc/${provider}${query}` });
    expect(response.statusCode, response.body).toBe(302);
    const flow = response.cookies.find((cookie) => cookie.name === 'oidc_flow');
    expect(flow).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth/oidc' });
    return { location: response.headers.location as string, flow: flow!.value };
  }

  /** The browser coming back from the provider to the callback. */
  const callback = (back: URL, flow: string | undefined, provider = 'corp') =>
    subject.app.inject({
      method: 'GET',
      url: `/api/v1/auth/oidc/${provider}/callback${back.search}`,
      headers: flow ? { cookie: `oidc_flow=${flow}` } : {},
    });

  async function signInAt(accountId: string, returnTo?: string) {
    const started = await start('corp', returnTo);
    issuer.signInAs(accountId);
    const back = await issuer.authorize(started.location);
    return { response: await callback(back, started.flow), back, started };
  }

  const me = (cookies: { name: string; value: string }[]) =>
    subject.app.inject({
      method: 'GET',
      url: '/api/v1/users/me',
      headers: { cookie: cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ') },
    });

  const auditOf = (userId: string) => subject.database.db.select().from(auditEvents).where(eq(auditEvents.targetUserId, userId));

  it('lists the configured providers without secrets', async () => {
    const response = await subject.app.inject({ method: 'GET', url: '/api/v1/auth/providers' });
    expect(response.json()).toEqual({
      items: [
        { name: 'corp', label: 'Corp SSO', kind: 'oidc' },
        { name: 'github', label: 'GitHub', kind: 'github' },
      ],
    });
    expect(response.body).not.toContain(issuer.clientSecret);
  });

  it('creates the account at the first sign-in, sets the password sign-in cookies and lands on return_to', async () => {
    issuer.accounts.set('alice', { email: 'Alice@Example.test', email_verified: true, name: 'Alice' });
    const { response, started } = await signInAt('alice', '/files?page=2');
    const authorization = new URL(started.location);
    expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorization.searchParams.get('nonce')).toBeTruthy();

    expect(response.statusCode, response.body).toBe(302);
    expect(response.headers.location).toBe('/files?page=2');
    const names = response.cookies.map((cookie) => cookie.name);
    expect(names).toEqual(expect.arrayContaining(['access_token', 'refresh_token', 'csrf_token']));
    const user = (await me(response.cookies)).json();
    expect(user).toMatchObject({ email: 'alice@example.test', full_name: 'Alice', email_verified: true });

    // The second sign-in finds the same account through the provider's subject.
    const again = await signInAt('alice');
    expect(again.response.headers.location).toBe('/');
    expect((await me(again.response.cookies)).json().id).toBe(user.id);
    const actions = (await auditOf(user.id)).map((event) => event.action);
    expect(actions.filter((action) => action === 'sign_in.succeeded')).toHaveLength(2);
    expect(actions.filter((action) => action === 'identity.linked')).toHaveLength(1);

    // No password yet: password sign-in is refused like a wrong password.
    const login = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'alice@example.test', password: 'anything at all' },
    });
    expect(login.statusCode).toBe(401);
  });

  it('links to an existing account only when both sides proved the address', async () => {
    const proven = await subject.createUser({ email: 'bob@example.test' });
    await subject.database.db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, proven.id));
    issuer.accounts.set('bob', { email: 'bob@example.test', email_verified: true });
    const { response } = await signInAt('bob');
    expect(response.statusCode, response.body).toBe(302);
    expect((await me(response.cookies)).json().id).toBe(proven.id);

    // An account whose address was never proven here is not handed to the provider's user.
    await subject.createUser({ email: 'carol@example.test' });
    issuer.accounts.set('carol', { email: 'carol@example.test', email_verified: true });
    const refused = await signInAt('carol');
    expect(refused.response.statusCode).toBe(409);
    expect(refused.response.json()).toMatchObject({ code: 'identity_email_in_use' });
  });

  it('creates a separate account when the provider did not verify the address', async () => {
    const owner = await subject.createUser({ email: 'dave@example.test' });
    await subject.database.db.update(users).set({ emailVerifiedAt: new Date() }).where(eq(users.id, owner.id));
    issuer.accounts.set('dave-impostor', { email: 'dave@example.test', email_verified: false });
    const { response } = await signInAt('dave-impostor');
    expect(response.statusCode, response.body).toBe(302);
    const account = (await me(response.cookies)).json();
    expect(account.id).not.toBe(owner.id);
    expect(account.email).toMatch(/^corp-[0-9a-f]+@users\.invalid$/);
    expect(account.email_verified).toBe(false);

    issuer.accounts.set('erin', { email: 'erin@example.test', email_verified: false });
    const fresh = (await me((await signInAt('erin')).response.cookies)).json();
    expect(fresh).toMatchObject({ email: 'erin@example.test', email_verified: false });
  });

  it('refuses a tampered state, a callback without its cookie, and a replayed code', async () => {
    issuer.accounts.set('frank', { email: 'frank@example.test', email_verified: true });
    const started = await start();
    issuer.signInAs('frank');
    const back = await issuer.authorize(started.location);

    const tampered = new URL(back);
    tampered.searchParams.set('state', `${back.searchParams.get('state')}x`);
    const wrongState = await callback(tampered, started.flow);
    expect(wrongState.statusCode).toBe(400);
    expect(wrongState.json()).toMatchObject({ code: 'identity_sign_in_expired' });
    // The flow was spent by the refused attempt: the genuine answer cannot follow it.
    expect((await callback(back, started.flow)).json()).toMatchObject({ code: 'identity_sign_in_expired' });

    const second = await start();
    expect((await callback(back, undefined)).json()).toMatchObject({ code: 'identity_sign_in_expired' });
    const good = await issuer.authorize(second.location);
    expect((await callback(good, second.flow)).statusCode).toBe(302);
    // The same answer again (flow spent), and the spent code with a fresh flow: the issuer refuses it.
    expect((await callback(good, second.flow)).json()).toMatchObject({ code: 'identity_sign_in_expired' });
    const third = await start();
    const replay = new URL(good);
    replay.searchParams.set('state', new URL(third.location).searchParams.get('state')!);
    const replayed = await callback(replay, third.flow);
    expect(replayed.statusCode).toBe(401);
    expect(replayed.json()).toMatchObject({ code: 'identity_sign_in_rejected' });
    expect(replayed.cookies.map((cookie) => cookie.name)).not.toContain('access_token');
  });

  it('refuses an ID token with another nonce', async () => {
    issuer.accounts.set('grace', { email: 'grace@example.test', email_verified: true });
    const started = await start();
    const altered = new URL(started.location);
    altered.searchParams.set('nonce', 'not-the-one-intake-sent');
    issuer.signInAs('grace');
    const back = await issuer.authorize(altered.toString());
    const response = await callback(back, started.flow);
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'identity_sign_in_rejected' });
    const failures = await subject.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'sign_in.failed'));
    expect(failures.some((event) => event.details.provider === 'corp')).toBe(true);
  });

  it('refuses an ID token from another issuer, even with the right nonce and audience', async () => {
    issuer.accounts.set('heidi', { email: 'heidi@example.test', email_verified: true });
    const started = await start();
    const nonce = new URL(started.location).searchParams.get('nonce')!;
    const foreign = await other.idTokenFor('mallory', nonce, callbackOf('corp'));
    issuer.signInAs('heidi');
    const back = await issuer.authorize(started.location);
    swapIdToken = async (body) => ({ ...body, id_token: foreign });
    try {
      const response = await callback(back, started.flow);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'identity_sign_in_rejected' });
    } finally {
      swapIdToken = undefined;
    }
  });

  it('refuses a return_to that leaves the service, and an unknown provider', async () => {
    for (const target of ['https://evil.example', '//evil.example/x', '/\\evil.example', 'files']) {
      const response = await subject.app.inject({
        method: 'GET',
        url: `/api/v1/auth/oidc/corp?return_to=${encodeURIComponent(target)}`,
      });
      expect(response.statusCode, target).toBe(422);
    }
    const unknown = await subject.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/nobody' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'identity_provider_not_found' });
  });

  it('signs in with the GitHub preset using the verified primary address from /user/emails', async () => {
    const started = await start('github', '/account');
    const authorization = new URL(started.location);
    expect(`${authorization.origin}${authorization.pathname}`).toBe(`${github.url}/login/oauth/authorize`);
    expect(authorization.searchParams.get('client_id')).toBe('gh-client');
    github.grant(authorization.searchParams.get('code_challenge')!, 'gh-code-1');
    const back = new URL(callbackOf('github'));
    back.search = new URLSearchParams({ code: 'gh-code-1', state: authorization.searchParams.get('state')! }).toString();
    const response = await callback(back, started.flow, 'github');
    expect(response.statusCode, response.body).toBe(302);
    expect(response.headers.location).toBe('/account');
    expect((await me(response.cookies)).json()).toMatchObject({ email: 'octo@example.test', email_verified: true });

    // A code GitHub does not know is refused.
    const again = await start('github');
    const state = new URL(again.location).searchParams.get('state')!;
    back.search = new URLSearchParams({ code: 'gh-code-1', state }).toString();
    expect((await callback(back, again.flow, 'github')).json()).toMatchObject({ code: 'identity_sign_in_rejected' });
  });

  it('links and unlinks from my account, and keeps the last way to sign in', async () => {
    const user = await subject.createUser();
    const session = await subject.cookieLogin(user.email, user.password);
    const link = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/users/me/identities',
      headers: session.headers,
      payload: { provider: 'corp', return_to: '/account' },
    });
    expect(link.statusCode, link.body).toBe(200);
    const flow = link.cookies.find((cookie) => cookie.name === 'oidc_flow')!.value;
    // A provider account whose address differs from mine: linking while signed in needs no e-mail match.
    issuer.accounts.set('ivan-work', { email: 'ivan@corp.example.test', email_verified: true });
    issuer.signInAs('ivan-work');
    const back = await issuer.authorize(link.json().authorization_url);
    const linked = await callback(back, flow);
    expect(linked.statusCode, linked.body).toBe(302);
    expect(linked.headers.location).toBe('/account');
    expect(linked.cookies.map((cookie) => cookie.name)).not.toContain('access_token');

    const list = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me/identities', headers: session.headers });
    expect(list.json()).toMatchObject({ password_set: true, items: [{ provider: 'corp', email: 'ivan@corp.example.test' }] });
    const identityId = list.json().items[0].id as string;
    // The provider account now signs in as me.
    expect((await me((await signInAt('ivan-work')).response.cookies)).json().id).toBe(user.id);

    // Linking it to someone else is refused.
    const stranger = await subject.createUser();
    const strangerSession = await subject.cookieLogin(stranger.email, stranger.password);
    const theft = await subject.app.inject({
      method: 'POST',
      url: '/api/v1/users/me/identities',
      headers: strangerSession.headers,
      payload: { provider: 'corp' },
    });
    const theftBack = await issuer.authorize(theft.json().authorization_url);
    const theftFlow = theft.cookies.find((cookie) => cookie.name === 'oidc_flow')!.value;
    expect((await callback(theftBack, theftFlow)).json()).toMatchObject({ code: 'identity_linked_elsewhere' });
    // Someone else's identity is not found.
    const foreign = await subject.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/me/identities/${identityId}`,
      headers: strangerSession.headers,
    });
    expect(foreign.statusCode).toBe(404);

    const unlink = await subject.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/me/identities/${identityId}`,
      headers: session.headers,
    });
    expect(unlink.statusCode).toBe(204);
    const actions = (await auditOf(user.id)).map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(['identity.linked', 'identity.unlinked']));
  });

  it('refuses to unlink the only way into an account made by a provider', async () => {
    issuer.accounts.set('judy', { email: 'judy@example.test', email_verified: true });
    const { response } = await signInAt('judy');
    const cookies = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie.value]));
    const headers = {
      cookie: `access_token=${cookies.access_token}; csrf_token=${cookies.csrf_token}`,
      'x-csrf-token': cookies.csrf_token!,
    };
    const list = await subject.app.inject({ method: 'GET', url: '/api/v1/users/me/identities', headers });
    expect(list.json()).toMatchObject({ password_set: false });
    const refused = await subject.app.inject({
      method: 'DELETE',
      url: `/api/v1/users/me/identities/${list.json().items[0].id}`,
      headers,
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'last_sign_in_method' });
  });
});
