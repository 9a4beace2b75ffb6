import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.ts';
import { startLoopbackIssuer, type LoopbackIssuer } from '../helpers/oidc-issuer.ts';
import { describeInChromium, openBrowser, seriousAxeViolations, type BrowserSession } from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

describeInChromium('signing in with an identity provider from the console in Chromium', () => {
  let issuer: LoopbackIssuer;
  let server: ConsoleServer;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    issuer = await startLoopbackIssuer([`${origin}/api/v1/auth/oidc/corp/callback`]);
    server = await startConsoleServer(
      {
        OIDC_PROVIDERS: 'corp',
        OIDC_CORP_ISSUER: issuer.issuer,
        OIDC_CORP_CLIENT_ID: issuer.clientId,
        OIDC_CORP_CLIENT_SECRET: issuer.clientSecret,
        OIDC_CORP_LABEL: 'Corp SSO',
      },
      port,
    );
    browser = await openBrowser(server.origin);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await issuer?.close();
  });

  it('signs in through the provider, lands where it started, and unlinks only while a password remains', async () => {
    issuer.accounts.set('zoe', { email: 'zoe@example.test', email_verified: true, name: 'Zoe' });
    issuer.signInAs('zoe');
    await page.goto(`${server.origin}/#/account`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('link', { name: 'Sign in with Corp SSO' }).click();
    // Back from the provider, signed in, on the page the sign-in started from.
    await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/account');
    await page.getByText('zoe@example.test').first().waitFor();

    const linked = page.getByRole('region', { name: 'Linked sign-in providers' });
    await linked.getByText('zoe@example.test').waitFor();
    await linked.getByRole('button', { name: 'Unlink Corp SSO' }).click();
    await linked.getByRole('button', { name: 'Yes, unlink' }).click();
    // The account was made by the provider and has no password: its only way in stays.
    await linked
      .getByRole('alert')
      .getByText(/only way to sign in/)
      .waitFor();
    expect(browser.pageErrors).toEqual([]);
    // Every request stayed on the service or the provider on loopback.
    expect(browser.foreignRequests.filter((url) => !url.startsWith(issuer.issuer))).toEqual([]);
  });
});
