import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './app-types.ts';

/**
 * The console's policy: everything from this origin only, no inline script or style, no
 * framing. `connect-src` names the WebSocket origin explicitly because browsers that predate
 * CSP 3 do not let `'self'` cover ws: and wss:.
 */
export function consoleContentSecurityPolicy(publicUrl: string): string {
  const origin = new URL(publicUrl);
  const socketOrigin = `${origin.protocol === 'https:' ? 'wss:' : 'ws:'}//${origin.host}`;
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ${socketOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** Paths the API and the service own: never answered with the console's page. */
const SERVICE_PATHS = /^\/(api|docs|openapi\.json|health|ready|metrics|problems|\.well-known)(\/|$|\?)/;

/** Vite writes content-hashed files under `assets/`: their name changes whenever their bytes do. */
const HASHED_ASSETS = /^\/assets\//;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Intake: the console is not built</title></head>
<body>
<main>
<h1>The Intake console is not built yet</h1>
<p>The API is running. To use Intake in a browser, build the console and reload this page:</p>
<pre><code>npm run build:console</code></pre>
<p>(<code>npm install</code> builds it too.) Meanwhile the API is described at <a href="/docs">/docs</a> and <a href="/openapi.json">/openapi.json</a>.</p>
</main>
</body>
</html>
`;

/**
 * Serves the built web console at `/` from `dir` (CONSOLE_DIR): its files, and `index.html`
 * for any other page a browser navigates to (the console routes on the client). Without a
 * build, `/` says how to make one instead of answering a 404 problem.
 */
export class ConsoleSite {
  private readonly indexFile: string;
  private readonly csp: string;

  constructor(
    private readonly dir: string,
    publicUrl: string,
  ) {
    this.indexFile = path.join(dir, 'index.html');
    this.csp = consoleContentSecurityPolicy(publicUrl);
  }

  /** Registers `/` and the console's files; call it in its own plugin scope. */
  readonly routes = async (app: App): Promise<void> => {
    app.addHook('onSend', async (request, reply) => {
      this.secure(reply);
      reply.header('Cache-Control', HASHED_ASSETS.test(request.url) && reply.statusCode === 200 ? IMMUTABLE : REVALIDATE);
    });
    app.get('/', { schema: { hide: true } }, async (_request, reply) => this.sendIndex(reply));
    // Files present at boot get a route each; `wildcard: false` keeps `GET /*` free, so unknown
    // paths still reach the not-found handler (405/404 problems, or the page below).
    if (existsSync(this.dir)) {
      await app.register(fastifyStatic, {
        root: this.dir,
        prefix: '/',
        wildcard: false,
        index: false,
        decorateReply: false,
        cacheControl: false,
        etag: true,
        lastModified: true,
        allowedPath: (pathName) => pathName !== '/index.html',
      });
    }
  };

  /**
   * For the not-found handler: a browser navigating to a console page (GET or HEAD, asking for
   * HTML, outside the API's paths) gets `index.html`. Answers true when it replied.
   */
  readonly fallback = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (SERVICE_PATHS.test(request.url) || HASHED_ASSETS.test(request.url)) return false;
    if (!(request.headers.accept ?? '').includes('text/html')) return false;
    this.secure(reply);
    reply.header('Cache-Control', REVALIDATE);
    await this.sendIndex(reply);
    return true;
  };

  private secure(reply: FastifyReply): void {
    reply.header('Content-Security-Policy', this.csp);
  }

  /** Read per request (it is small), so a console rebuilt while the server runs is picked up. */
  private async sendIndex(reply: FastifyReply): Promise<FastifyReply> {
    let html: string;
    try {
      html = await readFile(this.indexFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      html = NOT_BUILT_PAGE;
    }
    return reply.code(200).type('text/html; charset=utf-8').send(html);
  }
}
