import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { totpCode, totpStep } from '../../src/auth/totp.ts';
import { linkToken, startMailCatcher, type MailCatcher } from '../helpers/smtp.ts';
import { secretFromBase32 } from '../helpers/totp.ts';
import { eventually } from '../jobs/queue-harness.ts';
import { describeInChromium, openBrowser, seriousAxeViolations, type BrowserSession } from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

const PASSWORD = 'correct horse battery staple';

/**
 * The authenticator app of the test. The server accepts the step after the current one (clock
 * drift), and refuses a step once used, so each code is of the next unused step: two codes need
 * no waiting for the 30-second window (a third is taken from the recovery codes).
 */
class Authenticator {
  private lastStep = 0;
  private readonly secret: Buffer;

  constructor(base32: string) {
    this.secret = secretFromBase32(base32);
  }

  next(): string {
    const step = Math.max(totpStep(Date.now()), this.lastStep + 1);
    this.lastStep = step;
    return totpCode(this.secret, step);
  }

  /** A code of a step far from now: never accepted. */
  wrong(): string {
    return totpCode(this.secret, totpStep(Date.now()) + 50);
  }
}

describeInChromium('the console two-factor and verification screens in Chromium', () => {
  let smtp: MailCatcher;
  let server: ConsoleServer;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    smtp = await startMailCatcher();
    server = await startConsoleServer({ SMTP_URL: smtp.url, EMAIL_VERIFICATION: 'optional' });
    browser = await openBrowser(server.origin);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await smtp?.close();
  });

  async function enterPassword(email: string) {
    await browser.context.clearCookies();
    await page.goto(server.origin);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('enrols with the QR code, shows the recovery codes once, then asks for a code at sign-in', async () => {
    const user = await server.subject.createUser({ password: PASSWORD });
    await enterPassword(user.email);
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    await page.goto(`${server.origin}/#/account`);
    const section = page.getByRole('region', { name: 'Two-factor authentication' });
    await section.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
    const qr = section.getByRole('img', { name: /QR code/ });
    await qr.waitFor();
    expect(await qr.evaluate((image: HTMLImageElement) => image.complete && image.naturalWidth > 0)).toBe(true);
    const app = new Authenticator(await section.getByLabel('Or type this key').inputValue());
    expect(await seriousAxeViolations(page)).toEqual([]);

    await section.getByLabel('Code from the app').fill(app.next());
    await section.getByRole('button', { name: 'Confirm' }).click();
    const codes = section.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await codes.first().waitFor();
    expect(await codes.count()).toBe(10);
    const [recoveryCode, secondRecoveryCode] = (await codes.allTextContents()).map((code) => code.trim());
    expect(recoveryCode).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    await section.getByRole('button', { name: 'I have saved them' }).click();
    await section.getByText('Recovery codes left: 10.').waitFor();
    // Shown once: nothing on the page holds them any more.
    expect(await page.getByText(recoveryCode!).count()).toBe(0);

    // Sign-in now asks for a code after the password.
    await enterPassword(user.email);
    await page.getByRole('heading', { name: 'Two-factor code' }).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.getByRole('textbox', { name: 'Code' }).fill(app.wrong());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page
      .getByRole('alert')
      .getByText(/code is wrong/)
      .waitFor();
    await page.getByRole('textbox', { name: 'Code' }).fill(app.next());
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();

    // A recovery code works in place of the app.
    await enterPassword(user.email);
    await page.getByRole('textbox', { name: 'Code' }).fill(recoveryCode!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();

    // Off again with the password and a code (a recovery code: the app's next code would be two steps ahead).
    await page.goto(`${server.origin}/#/account`);
    await section.getByText('Recovery codes left: 9.').waitFor();
    await section.getByLabel('Password').fill(PASSWORD);
    await section.getByLabel('Code from the app, or a recovery code').fill(secondRecoveryCode!);
    await section.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
    await section.getByText('Two-factor authentication is off.').waitFor();
    await enterPassword(user.email);
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    expect(browser.pageErrors).toEqual([]);
    expect(browser.foreignRequests).toEqual([]);
  });

  it('asks an unverified account to verify, resends the link, and the link proves the address', async () => {
    const user = await server.subject.createUser({ password: PASSWORD });
    await enterPassword(user.email);
    const banner = page.getByRole('region', { name: 'Verify your e-mail' });
    await banner.getByText(`follow the link we sent to ${user.email}`).waitFor();
    expect(await seriousAxeViolations(page)).toEqual([]);
    await banner.getByRole('button', { name: 'Send the link again' }).click();
    await banner.getByText('A new link is on its way.').waitFor();

    const mail = await eventually(async () => smtp.to(user.email)[0], 30_000, 'the verification mail');
    await page.goto('about:blank');
    await page.goto(`${server.origin}/verify-email#token=${linkToken(mail)}`);
    await page.getByRole('heading', { name: 'E-mail address verified' }).waitFor();
    expect(new URL(page.url()).hash).toBe('');
    await page.getByRole('link', { name: 'Go to the console' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    expect(await page.getByRole('region', { name: 'Verify your e-mail' }).count()).toBe(0);
    expect(browser.pageErrors).toEqual([]);
  });
});
