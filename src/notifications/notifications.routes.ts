import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import type { NotificationPreferences, NotificationService } from './notification.service.ts';

export interface NotificationsRoutesOptions {
  notifications: NotificationService;
}

const PreferencesResponse = Type.Object({
  email_on_file_finished: Type.Boolean({ description: 'An e-mail when one of my files finishes processing or fails.' }),
  email_available: Type.Boolean({ description: 'Whether this server sends e-mail at all (SMTP_URL is set).' }),
});

export async function notificationsRoutes(app: App, options: NotificationsRoutesOptions): Promise<void> {
  const { notifications } = options;
  const answer = (preferences: NotificationPreferences) => ({
    email_on_file_finished: preferences.emailOnFileFinished,
    email_available: notifications.emailEnabled,
  });

  app.get(
    '/users/me/notifications',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'My notification choices.',
        security: AUTH_SECURITY,
        response: { 200: PreferencesResponse },
      },
    },
    async (request) => answer(await notifications.preferences(requireUser(request).id)),
  );

  app.put(
    '/users/me/notifications',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Sets my notification choices (e-mails are sent only when the server has SMTP_URL).',
        security: AUTH_SECURITY,
        body: Type.Object({ email_on_file_finished: Type.Boolean() }),
        response: { 200: PreferencesResponse },
      },
    },
    async (request) =>
      answer(await notifications.update(requireUser(request).id, { emailOnFileFinished: request.body.email_on_file_finished })),
  );
}
