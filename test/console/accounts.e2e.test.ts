import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { linkToken, startMailCatcher, type MailCatcher } from '../helpers/smtp.ts';
import { eventually } from '../jobs/queue-harness.ts';
import { describeInChromium, openBrowser, seriousAxeViolations, type BrowserSession } from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new passphrase';

describeInChromium('the console account screens in Chromium', () => {
  let smtp: MailCatcher;
  let server: ConsoleServer;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    smtp = await startMailCatcher();
    server = await startConsoleServer({ SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'off' });
    browser = await openBrowser(server.origin);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await smtp?.close();
  });

  async function signIn(email: string, password: string) {
    await browser.context.clearCookies();
    await page.goto(server.origin);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
  }

  it('resets a forgotten password from the sign-in page through the mailed link', async () => {
    const user = await server.subject.createUser({ password: PASSWORD });
    await page.goto(server.origin);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByLabel('Email').fill(user.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText(/Check your inbox/).waitFor();

    const mail = await eventually(async () => smtp.to(user.email)[0], 30_000, 'the reset mail');
    // Opened from the mail: a fresh page load.
    await page.goto('about:blank');
    await page.goto(`${server.origin}/reset-password#token=${linkToken(mail)}`);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    // The token leaves the address bar at once.
    expect(new URL(page.url()).hash).toBe('');
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set the password' }).click();
    await page.getByRole('heading', { name: 'Password changed' }).waitFor();
    await signIn(user.email, NEW_PASSWORD);
  });

  it('lists my sessions and signs out the others', async () => {
    const user = await server.subject.createUser({ password: PASSWORD });
    await signIn(user.email, PASSWORD);
    await page.goto(`${server.origin}/#/account`);
    const sessions = page.getByRole('region', { name: 'Sessions' });
    await sessions.getByText('(this session)').waitFor();
    // The helper's sign-in (a program) is the other session.
    expect(await sessions.locator('tbody tr').count()).toBe(2);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await sessions.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await sessions.getByRole('button', { name: 'Yes, sign out the others' }).click();
    await sessions.getByText('Signed out everywhere else.').waitFor();
    // The list is read again after the notice: wait for the other row to go, then count.
    await sessions.locator('tbody tr').nth(1).waitFor({ state: 'detached' });
    expect(await sessions.locator('tbody tr').count()).toBe(1);
    const old = await server.subject.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: user.bearer });
    expect(old.json().code).toBe('token_revoked');
  });

  it('shows administrators the audit log, filtered by action', async () => {
    const admin = await server.subject.createUser({ role: 'admin', password: PASSWORD });
    await server.subject.app.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      payload: { email: admin.email, password: 'not the password' },
    });
    await signIn(admin.email, PASSWORD);
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    await page.getByLabel('Action').selectOption('sign_in.failed');
    // The admin's cells are on the unfiltered page too (its successful sign-in): wait for the
    // filtered page itself, whose every row is the failed sign-in's action.
    await page.waitForFunction(() => {
      const actions = [...document.querySelectorAll('table.audit tbody td:nth-child(2)')].map((cell) => cell.textContent);
      return actions.length > 0 && actions.every((action) => action === 'sign_in.failed');
    });
    await page.getByRole('cell', { name: admin.id }).first().waitFor();
    expect(await page.locator('table.audit tbody td:nth-child(2)').allTextContents()).toEqual(
      expect.arrayContaining(['sign_in.failed']),
    );
    expect(new Set(await page.locator('table.audit tbody td:nth-child(2)').allTextContents())).toEqual(
      new Set(['sign_in.failed']),
    );
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(browser.pageErrors).toEqual([]);
    expect(browser.foreignRequests).toEqual([]);
  });
});
