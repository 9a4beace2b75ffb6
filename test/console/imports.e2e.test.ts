import iconv from 'iconv-lite';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInChromium, openBrowser, seriousAxeViolations, type BrowserSession } from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

const PASSWORD = 'correct horse battery staple';

describeInChromium('the console import screens in Chromium', () => {
  let server: ConsoleServer;
  let browser: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await openBrowser(server.origin);
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('uploads a Windows-1252 CSV checked by a chosen schema, then shows its encoding, typed columns, preview and correction file', async () => {
    const user = await server.subject.createUser({ password: PASSWORD });
    const created = await server.subject.app.inject({
      method: 'POST',
      url: '/api/v1/schemas',
      headers: user.bearer,
      payload: {
        name: 'Contacts',
        columns: [
          { name: 'email', type: 'text', required: true, aliases: ['Courriel'] },
          { name: 'seats', type: 'integer' },
        ],
      },
    });
    expect(created.statusCode).toBe(201);

    await page.goto(server.origin);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();

    await page.getByLabel('Import schema').selectOption({ label: 'Contacts' });
    const csv = 'Courriel;Seats;Ville\r\nann@example.com;3;Zürich\r\n;2;Malmö\r\nbob@example.com;1;Kraków\r\n';
    await page.setInputFiles('#file-picker', [
      { name: 'contacts.csv', mimeType: 'text/csv', buffer: iconv.encode(csv, 'windows-1252') },
    ]);
    await page.locator('li.upload[data-phase="processed"]', { hasText: 'contacts.csv' }).waitFor({ timeout: 90_000 });
    await page.locator('li.upload', { hasText: 'contacts.csv' }).getByRole('link', { name: 'contacts.csv' }).click();
    await page.getByRole('heading', { name: 'contacts.csv' }).waitFor();

    const details = page.locator('section', { has: page.getByRole('heading', { name: 'Import' }) });
    await details.getByText('windows-1252').waitFor();
    const columns = page.getByRole('table', { name: 'Inferred types' });
    expect(await columns.locator('tbody tr').allInnerTexts()).toEqual([
      // The rejected row had no e-mail: the column was seen empty.
      expect.stringMatching(/^email\s+text\s+yes/),
      expect.stringMatching(/^seats\s+integer\s+no/),
      expect.stringMatching(/^Ville\s+text\s+no/),
    ]);
    const correction = page.getByRole('link', { name: /Download the correction file/ });
    expect(await correction.getAttribute('href')).toMatch(/\/problems\.csv$/);
    const download = await page.evaluate(async (url) => (await fetch(url)).text(), (await correction.getAttribute('href'))!);
    expect(download).toContain(';2;Malmö'.replace(/;/g, ','));

    await page.getByRole('button', { name: 'Preview the first rows' }).click();
    const preview = page.getByRole('table', { name: 'Preview' });
    await preview.waitFor();
    expect(await preview.locator('tbody tr').allInnerTexts()).toEqual([
      expect.stringMatching(/^1\s+ann@example\.com\s+3\s+Zürich$/),
      expect.stringMatching(/^3\s+bob@example\.com\s+1\s+Kraków$/),
    ]);
    expect(await seriousAxeViolations(page)).toEqual([]);
  });
});
