import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);

/**
 * `describe` for a walk through the console in Chromium: where Chromium is missing it is skipped,
 * and the skip says why on stderr, so that a green run without a browser is not mistaken for one.
 */
export function describeInChromium(what: string, suite: () => void): void {
  const title = hasChromium ? what : `${what}: SKIPPED, ${CHROMIUM_PATH} is missing (apt-get install chromium; CI installs it)`;
  if (!hasChromium) process.stderr.write(`\n${title}\n`);
  describe.skipIf(!hasChromium)(title, suite);
}

/** Flags for Debian's Chromium in CI: no sandbox (root in a container), nothing that phones home. */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../test-output/console/', import.meta.url));

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Requests that left the served origin, and CSP violations or page errors: both must stay empty. */
  foreignRequests: string[];
  pageErrors: string[];
  close(): Promise<void>;
}

/** A fresh profile (its own --user-data-dir) per person, so cookies never cross between accounts. */
export async function openBrowser(origin: string): Promise<BrowserSession> {
  const profile = await mkdtemp(path.join(tmpdir(), 'intake-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    acceptDownloads: true,
    viewport: { width: 1440, height: 900 },
  });
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreignRequests.push(url);
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) pageErrors.push(message.text());
  });
  return {
    context,
    page,
    foreignRequests,
    pageErrors,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * axe-core on the current page; serious and critical violations are returned. It is evaluated
 * through the DevTools protocol rather than `addScriptTag`: the console's policy
 * (`script-src 'self'`) rightly refuses an injected inline script.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(await axeSource);
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run(
            context: Document,
            options: object,
          ): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations
      .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
      .map((violation) => ({
        id: violation.id,
        impact: violation.impact,
        help: violation.help,
        nodes: violation.nodes.map((node) => node.target.join(' ')),
      }));
  });
}

export interface PageCheck {
  name: string;
  width: number;
  horizontalOverflow: number;
  /** When the page overflows: the elements sticking out on the right, to say what to fix. */
  offenders: string[];
}

/**
 * Screenshots at 390 and 1440 px (test-output/console/, not committed) and how far the page
 * scrolls sideways at each width (must be 0: wide tables scroll inside their own box).
 */
export async function captureWidths(page: Page, name: string): Promise<PageCheck[]> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const checks: PageCheck[] = [];
  for (const width of [390, 1440]) {
    await page.setViewportSize({ width, height: 900 });
    const { horizontalOverflow, offenders } = await page.evaluate(() => {
      const limit = document.documentElement.clientWidth;
      const overflow = document.documentElement.scrollWidth - limit;
      const sticking =
        overflow <= 0
          ? []
          : [...document.querySelectorAll('body *')].filter((element) => element.getBoundingClientRect().right > limit + 1);
      return {
        horizontalOverflow: overflow,
        offenders: sticking
          .slice(0, 5)
          .map(
            (element) => `${element.tagName.toLowerCase()}.${element.className} "${(element.textContent ?? '').slice(0, 30)}"`,
          ),
      };
    });
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
    checks.push({ name, width, horizontalOverflow, offenders });
  }
  await page.setViewportSize({ width: 1440, height: 900 });
  return checks;
}
