import type { App } from '../http/app-types.ts';
import type { FirstAdminService } from './first-admin.service.ts';

/**
 * When no administrator exists, tells the operator at start how to create one: the link holds
 * the one-time setup token in its fragment, which browsers never send to a server or proxy
 * log. It is printed on purpose (as PocketBase does): the token only works until the first
 * administrator exists, and only on this process.
 */
export function announceSetupLink(app: App, firstAdmin: FirstAdminService, setupUrl: string): void {
  app.addHook('onReady', async () => {
    let needed: boolean;
    try {
      needed = await firstAdmin.needed();
    } catch (error) {
      app.log.warn({ err: error }, 'could not check whether an administrator exists');
      return;
    }
    if (!needed) return;
    app.log.warn(
      { setup_url: setupUrl },
      `No administrator exists yet. Create one in the console: open ${setupUrl} (from this machine, the console offers it without the link), or run \`intake create-admin --email <you@example.com>\` while the server is stopped.`,
    );
  });
}
