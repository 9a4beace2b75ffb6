import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import type { Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  captureWidths,
  describeInChromium,
  openBrowser,
  seriousAxeViolations,
  type BrowserSession,
  type PageCheck,
} from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

const PASSWORD = 'correct horse battery staple';
const CITIES = ['Paris', 'Lyon', 'Nantes'];
const PEOPLE = Array.from({ length: 60 }, (_, index) => ({
  name: `Person ${String(index + 1).padStart(2, '0')}`,
  city: CITIES[index % 3] ?? 'Paris',
  score: String((index + 1) * 3),
}));
// The last line has two fields for three columns: a row problem; the good rows are kept.
const PEOPLE_CSV = `name,city,score\n${PEOPLE.map((person) => `${person.name},${person.city},${person.score}`).join('\n')}\nbroken,row\n`;

async function salesXlsx(): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('Sales');
  sheet.addRow(['product', 'quantity']);
  sheet.addRow(['apple', 3]);
  sheet.addRow(['pear', 5]);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

const logoPng = () =>
  sharp({ create: { width: 40, height: 30, channels: 3, background: '#3366cc' } })
    .png()
    .toBuffer();

/** Drops a file on the page the way a browser does, with a DataTransfer carrying a File. */
async function dropFile(page: Page, file: { name: string; type: string; content: Buffer }): Promise<void> {
  await page.evaluate(
    ({ name, type, base64 }) => {
      const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], name, { type }));
      const target = document.querySelector('h1') ?? document.body;
      target.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: transfer }));
      target.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: transfer }));
    },
    { name: file.name, type: file.type, base64: file.content.toString('base64') },
  );
}

const firstCells = (page: Page) => page.locator('table.records tbody tr td:first-of-type').allTextContents();

describeInChromium('the console in Chromium', () => {
  let server: ConsoleServer;
  let alice: BrowserSession;
  let page: Page;
  const email = `ada-${Date.now()}@example.com`;
  const pageChecks: PageCheck[] = [];
  let csvFileId = '';

  /** Every page passes axe (serious/critical) and scrolls no wider than the window at 390 and 1440 px. */
  async function checkPage(name: string): Promise<void> {
    expect(await seriousAxeViolations(page), `axe on ${name}`).toEqual([]);
    const checks = await captureWidths(page, name);
    pageChecks.push(...checks);
    expect(
      checks.filter((check) => check.horizontalOverflow > 0),
      `horizontal scroll on ${name}`,
    ).toEqual([]);
  }

  beforeAll(async () => {
    // A low per-account limit so the rate-limit message can be reached with a few attempts.
    // A shallow JSON depth limit, so a small file fails its processing (for the admin's retry).
    server = await startConsoleServer({ LOGIN_RATE_LIMIT_PER_ACCOUNT: '9', PROCESSING_MAX_JSON_DEPTH: '3' });
    alice = await openBrowser(server.origin);
    page = alice.page;
  });

  afterAll(async () => {
    await alice?.close();
    await server?.close();
  });

  it('creates an account from the sign-in page and lands on the files page', async () => {
    await page.goto(server.origin);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    // From this machine, with no administrator yet, the page offers to create one.
    await page.getByRole('link', { name: 'Create the administrator' }).waitFor();
    await checkPage('sign-in');
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Full name (optional)').fill('Ada Lovelace');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    await page.getByRole('cell', { name: /No files yet/ }).waitFor();
    // No token in storage: the session lives in HttpOnly cookies.
    expect(await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length }))).toEqual({
      local: 0,
      session: 0,
    });
    const cookies = await alice.context.cookies();
    expect(cookies.find((cookie) => cookie.name === 'access_token')?.httpOnly).toBe(true);
  });

  it('uploads a CSV and an XLSX with the picker and a PNG by a drop; each shows progress and reaches its outcome', async () => {
    // Record every progress bar value the page shows, however briefly.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { progressSeen: string[] }).progressSeen = seen;
      new MutationObserver(() => {
        for (const bar of document.querySelectorAll('[role="progressbar"]')) {
          seen.push(`${bar.getAttribute('aria-label')}=${bar.getAttribute('aria-valuenow')}`);
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.setInputFiles('#file-picker', [
      { name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(PEOPLE_CSV) },
      {
        name: 'sales.xlsx',
        mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
        buffer: await salesXlsx(),
      },
    ]);
    await dropFile(page, { name: 'logo.png', type: 'image/png', content: await logoPng() });
    for (const name of ['people.csv', 'sales.xlsx', 'logo.png']) {
      await page.locator('li.upload[data-phase="processed"]', { hasText: name }).waitFor({ timeout: 90_000 });
    }
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: string[] }).progressSeen);
    expect(seen.some((entry) => /^Uploading people\.csv=\d+$/.test(entry))).toBe(true);
    expect(seen.some((entry) => /^Uploading logo\.png=\d+$/.test(entry))).toBe(true);
    // The list shows them, with their live status.
    for (const name of ['people.csv', 'sales.xlsx', 'logo.png']) {
      await page.locator('table.files-table tr', { hasText: name }).locator('.badge-processed').waitFor();
    }
    await checkPage('files');
  });

  it("shows the API's refusal next to a file it does not accept, and a processing failure with its error", async () => {
    await page.setInputFiles('#file-picker', [
      { name: 'notes.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ\u0090\u0000') },
      { name: 'deep.json', mimeType: 'application/json', buffer: Buffer.from('[{"a":{"b":{"c":{"d":1}}}}]') },
    ]);
    const refused = page.locator('li.upload[data-phase="refused"]', { hasText: 'notes.exe' });
    await refused.waitFor();
    expect((await refused.getByRole('alert').textContent())?.length).toBeGreaterThan(10);
    const failed = page.locator('li.upload[data-phase="failed"]', { hasText: 'deep.json' });
    await failed.waitFor({ timeout: 90_000 });
    expect(await failed.locator('p.error').textContent()).toMatch(/nest/i);
  });

  it('opens the records of the CSV: columns as headers, Next/Previous, a filter, and the row problem', async () => {
    await page.locator('table.files-table').getByRole('link', { name: 'people.csv' }).click();
    await page.getByRole('heading', { name: 'people.csv' }).waitFor();
    csvFileId = page.url().split('/').pop() ?? '';
    await page.locator('table.records tbody tr').first().waitFor();
    expect(await page.locator('table.records thead th').allTextContents()).toEqual(['Row', 'name', 'city', 'score']);
    expect((await firstCells(page)).slice(0, 2)).toEqual(['Person 01', 'Person 02']);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('table.records tbody tr td', { hasText: 'Person 26' }).waitFor();
    expect((await firstCells(page))[0]).toBe('Person 26');
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.locator('table.records tbody tr td', { hasText: 'Person 01' }).waitFor();

    await page.getByLabel('Column').selectOption('city');
    await page.getByLabel('Equals').fill('Nantes');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.getByRole('button', { name: 'Clear filter' }).waitFor();
    // Person 60 lives in Nantes and is not on the unfiltered first page (Person 03 is on both,
    // so waiting for it could read the rows before the filtered page replaced them).
    await page.locator('table.records tbody tr td', { hasText: 'Person 60' }).waitFor();
    const cities = await page.locator('table.records tbody tr td:nth-of-type(2)').allTextContents();
    expect(cities.length).toBe(20);
    expect(new Set(cities)).toEqual(new Set(['Nantes']));

    const problems = page.getByRole('region', { name: /Row problems/ });
    expect(await problems.getByRole('cell').first().textContent()).toMatch(/^\d+$/);
    await checkPage('file-csv');
  });

  it('downloads the CSV export, which holds exactly the good rows of the upload', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download CSV' }).click(),
    ]);
    const exported = parse(await readFile(await download.path(), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(exported.map((row) => ({ name: row.name, city: row.city, score: row.score }))).toEqual(PEOPLE);
  });

  it('shows the XLSX sheet as records and the PNG with its thumbnail and dimensions', async () => {
    await page.goto(`${server.origin}/#/files`);
    await page.locator('table.files-table').getByRole('link', { name: 'sales.xlsx' }).click();
    await page.locator('table.records tbody tr td', { hasText: 'pear' }).waitFor();
    expect(await page.locator('table.records thead th').allTextContents()).toEqual(['Row', 'product', 'quantity']);

    await page.goto(`${server.origin}/#/files`);
    await page.locator('table.files-table').getByRole('link', { name: 'logo.png' }).click();
    const thumbnail = page.getByRole('img', { name: 'Thumbnail of logo.png' });
    await thumbnail.waitFor();
    await page.waitForFunction(() => (document.querySelector('img.thumbnail') as HTMLImageElement | null)?.naturalWidth);
    await page.getByText('40 × 30 px').waitFor();
    await checkPage('file-png');
  });

  it('deletes the selected files after asking for confirmation', async () => {
    await page.goto(`${server.origin}/#/files`);
    await page.getByRole('checkbox', { name: 'Select sales.xlsx' }).check();
    await page.getByRole('button', { name: 'Delete selected (1)' }).click();
    await page.getByRole('button', { name: 'Delete 1' }).click();
    await page.getByText('3 files', { exact: true }).waitFor();
    expect(await page.locator('table.files-table').getByRole('link', { name: 'sales.xlsx' }).count()).toBe(0);
  });

  it('creates an API key shown once, which works until it is revoked', async () => {
    await page.getByRole('link', { name: 'Developer' }).click();
    await page.getByLabel('Key name').fill('nightly import');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByLabel('New API key').inputValue();
    expect(key).toMatch(/^ik_/);
    await page.getByRole('cell', { name: 'nightly import', exact: true }).waitFor();
    await checkPage('developer');
    const asProgram = () => fetch(`${server.origin}/api/v1/files`, { headers: { authorization: `Bearer ${key}` } });
    const listed = await asProgram();
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { total: number }).total).toBe(3);

    await page.getByRole('button', { name: 'I have stored it' }).click();
    expect(await page.getByLabel('New API key').count()).toBe(0);
    await page.getByRole('button', { name: 'Revoke nightly import' }).click();
    await page.getByRole('button', { name: 'Revoke', exact: true }).click();
    await page.getByRole('cell', { name: 'No API keys.' }).waitFor();
    expect((await asProgram()).status).toBe(401);
  });

  it('renews an expired access cookie by itself, and after the session ends returns to the same page once signed in again', async () => {
    await alice.context.clearCookies({ name: 'access_token' });
    await page.getByRole('link', { name: 'Account' }).click();
    await page.getByRole('checkbox', { name: /E-mail me/ }).waitFor();
    expect((await alice.context.cookies()).some((cookie) => cookie.name === 'access_token')).toBe(true);
    await checkPage('account');

    await alice.context.clearCookies();
    await page.goto(`${server.origin}/#/developer`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Developer settings' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/developer');
  });

  it('signs out, and says so when the password is wrong and when attempts are rate limited', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    expect((await alice.context.cookies()).some((cookie) => cookie.name === 'access_token')).toBe(false);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('The email or password is incorrect.').waitFor();
    await checkPage('sign-in-error');

    // LOGIN_RATE_LIMIT_PER_ACCOUNT is 9 and this account has used a few: the limit is reached within 9 more.
    for (let attempt = 0; attempt < 9; attempt += 1) {
      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.url().endsWith('/api/v1/auth/login')),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      await page.getByRole('button', { name: 'Sign in' }).and(page.locator(':enabled')).waitFor();
      if (answer.status() === 429) break;
    }
    expect(await page.getByRole('alert').textContent()).toMatch(/^Too many attempts\. Try again in \d+ (seconds|minutes)\.$/);
  });

  it("gives a second account none of the first account's files", async () => {
    const bob = await openBrowser(server.origin);
    try {
      await bob.page.goto(server.origin);
      await bob.page.getByRole('button', { name: 'Create an account' }).click();
      await bob.page.getByLabel('Email').fill(`bob-${Date.now()}@example.com`);
      await bob.page.getByLabel('Password').fill(PASSWORD);
      await bob.page.getByRole('button', { name: 'Create an account' }).click();
      await bob.page.getByRole('cell', { name: /No files yet/ }).waitFor();
      await bob.page.goto(`${server.origin}/#/files/${csvFileId}`);
      await bob.page.getByRole('alert').waitFor();
      expect(await bob.page.getByRole('heading', { name: 'people.csv' }).count()).toBe(0);
      expect(bob.pageErrors).toEqual([]);
    } finally {
      await bob.close();
    }
  });

  it('creates the first administrator from the setup page, who sees the queues and users and retries the failed job', async () => {
    const session = await openBrowser(server.origin);
    try {
      page = session.page;
      await page.goto(`${server.origin}/setup`);
      await page.getByRole('heading', { name: 'Create the administrator' }).waitFor();
      await checkPage('setup');
      await page.getByLabel('Email').fill(`admin-${Date.now()}@example.com`);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Create the administrator' }).click();
      await page.getByRole('heading', { name: 'Administration' }).waitFor();
      expect(new URL(page.url()).pathname).toBe('/');
      await page
        .getByRole('row', { name: /^files/ })
        .first()
        .waitFor();
      await page.getByRole('cell', { name: email, exact: true }).waitFor();
      const failedJob = page.locator('table.jobs-table tbody tr', { hasText: 'files.process' });
      await failedJob.getByText(/nest/i).waitFor();
      await checkPage('admin');
      const [retried] = await Promise.all([
        page.waitForResponse((response) => /\/api\/v1\/admin\/jobs\/[^/]+\/retry$/.test(response.url())),
        failedJob.getByRole('button', { name: 'Retry' }).click(),
      ]);
      expect(retried.status()).toBe(202);
      expect(((await retried.json()) as { status: string }).status).toBe('queued');
      expect(session.pageErrors).toEqual([]);
    } finally {
      page = alice.page;
      await session.close();
    }
  });

  it('loaded nothing from another origin and broke no Content-Security-Policy rule', async () => {
    const served = await fetch(`${server.origin}/`);
    expect(served.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(alice.foreignRequests).toEqual([]);
    expect(alice.pageErrors).toEqual([]);
    expect(pageChecks.length).toBeGreaterThan(0);
  });
});
