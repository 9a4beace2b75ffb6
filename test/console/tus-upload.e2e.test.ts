import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page, Route } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestUser } from '../helpers/app.ts';
import { describeInChromium, openBrowser, seriousAxeViolations, type BrowserSession } from './browser.ts';
import { startConsoleServer, type ConsoleServer } from './console-server.ts';

const PASSWORD = 'correct horse battery staple';
const MIB = 1024 * 1024;
/** Over the console's tus threshold (8 MiB) and three of its 8 MiB chunks. */
const FILE_BYTES = 20 * MIB;
const TUS_ROUTE = '**/api/v1/uploads/tus/*';

/** A CSV of exactly `bytes` with kilobyte rows (few records to process), unique to `tag`. */
function csvOf(bytes: number, tag: string): Buffer {
  const row = `${tag},${'x'.repeat(1000)}\n`;
  const head = 'name,note\n';
  const body = row.repeat(Math.ceil((bytes - head.length) / row.length));
  return Buffer.from(head + body.slice(0, bytes - head.length - 1) + '\n');
}

describeInChromium('resumable uploads from the console in Chromium', () => {
  let server: ConsoleServer;
  let browser: BrowserSession;
  let page: Page;
  let user: TestUser;
  let directory: string;
  /** Methods of the tus requests the page sent, in order. */
  let sent: string[] = [];

  beforeAll(async () => {
    server = await startConsoleServer();
    browser = await openBrowser(server.origin);
    page = browser.page;
    directory = await mkdtemp(path.join(tmpdir(), 'intake-console-tus-'));
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/api/v1/uploads/tus')) sent.push(request.method());
    });
    user = await server.subject.createUser({ password: PASSWORD });
    await page.goto(server.origin);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** A file on disk, so that choosing it again after a reload is the same file (name, size, modification time). */
  async function fileOnDisk(name: string): Promise<{ path: string; sha256: string }> {
    const content = csvOf(FILE_BYTES, name);
    const file = path.join(directory, name);
    await writeFile(file, content);
    return { path: file, sha256: createHash('sha256').update(content).digest('hex') };
  }

  /** Waits for the upload row of `name` to reach "processed"; answers the stored file as the API shows it. */
  async function processedFile(name: string) {
    const row = page.locator('li.upload[data-phase="processed"]', { hasText: name });
    await row.waitFor({ timeout: 90_000 });
    const link = await row.getByRole('link', { name }).getAttribute('href');
    const id = /files\/([0-9a-f-]{36})/.exec(link ?? '')?.[1];
    expect(id, `file link ${link}`).toBeDefined();
    const response = await server.subject.app.inject({ method: 'GET', url: `/api/v1/files/${id}`, headers: user.bearer });
    expect(response.statusCode).toBe(200);
    return response.json() as { sha256: string; size_bytes: number; status: string };
  }

  it('goes on after the connection drops mid-upload, to a processed file with the same SHA-256', async () => {
    const file = await fileOnDisk('dropped.csv');
    sent = [];
    let patches = 0;
    await page.route(TUS_ROUTE, async (route: Route) => {
      // The second chunk never arrives: the connection is reset under it.
      if (route.request().method() === 'PATCH' && ++patches === 2) return route.abort('connectionreset');
      return route.fallback();
    });
    try {
      await page.setInputFiles('#file-picker', file.path);
      const stored = await processedFile('dropped.csv');
      expect(stored).toMatchObject({ sha256: file.sha256, size_bytes: FILE_BYTES, status: 'processed' });
    } finally {
      await page.unroute(TUS_ROUTE);
    }
    // Created once; after the cut the client asked the server for its offset and sent the rest.
    expect(sent.filter((method) => method === 'POST')).toHaveLength(1);
    const cut = sent.indexOf('PATCH', sent.indexOf('PATCH') + 1);
    expect(sent.slice(cut + 1)).toContain('HEAD');
    expect(sent.filter((method) => method === 'PATCH')).toHaveLength(4);
  });

  it('pauses and resumes by hand, and after a reload goes on from the bytes the server already held', async () => {
    const file = await fileOnDisk('reloaded.csv');
    sent = [];
    let patches = 0;
    let holding!: () => void;
    let held = new Promise<void>((resolve) => (holding = resolve));
    await page.route(TUS_ROUTE, async (route: Route) => {
      if (route.request().method() !== 'PATCH' || ++patches === 1) return route.fallback();
      // Every chunk after the first hangs in the network until the client gives up on it.
      holding();
      return undefined;
    });
    try {
      await page.setInputFiles('#file-picker', file.path);
      await held;
      const row = page.locator('li.upload', { hasText: 'reloaded.csv' });
      await row.getByRole('button', { name: 'Pause reloaded.csv' }).click();
      await page.locator('li.upload[data-phase="paused"]', { hasText: 'reloaded.csv' }).waitFor();
      expect(await seriousAxeViolations(page)).toEqual([]);
      held = new Promise<void>((resolve) => (holding = resolve));
      await row.getByRole('button', { name: 'Resume reloaded.csv' }).click();
      await held;
      // Resuming asked the server where the upload stands before sending.
      expect(sent.slice(sent.lastIndexOf('PATCH', sent.length - 2) + 1)).toEqual(['HEAD', 'PATCH']);
      await page.reload();
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
    await page.getByRole('heading', { name: 'Files', level: 1 }).waitFor();
    const unfinished = page.getByRole('region', { name: 'Unfinished uploads' });
    await unfinished.getByText('reloaded.csv').waitFor();

    sent = [];
    await page.setInputFiles('#file-picker', file.path);
    const stored = await processedFile('reloaded.csv');
    await page
      .locator('li.upload', { hasText: 'reloaded.csv' })
      .getByText('Went on from the 8.0 MB the server already held.')
      .waitFor();
    expect(stored).toMatchObject({ sha256: file.sha256, size_bytes: FILE_BYTES, status: 'processed' });
    // No new upload: the one begun before the reload was asked for its offset and finished.
    expect(sent[0]).toBe('HEAD');
    expect(sent).not.toContain('POST');
    expect(sent.filter((method) => method === 'PATCH')).toHaveLength(2);
    // Finished uploads are forgotten.
    await unfinished.waitFor({ state: 'detached' });
    expect(browser.pageErrors).toEqual([]);
    expect(browser.foreignRequests).toEqual([]);
  });
});
