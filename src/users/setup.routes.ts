import { Type } from '../vendor/typebox.ts';
import { Text } from '../http/schema-types.ts';
import type { App } from '../http/app-types.ts';
import type { FirstAdminService } from './first-admin.service.ts';
import { Email, FullName, Password, toUserResponse, UserResponse } from './user.contract.ts';

export interface SetupRoutesOptions {
  firstAdmin: FirstAdminService;
}

const SetupToken = Text({ minLength: 1, maxLength: 200, description: 'The token of the setup link printed in the server log.' });

/** First run: no authentication, since no one can sign in as an administrator yet. */
export async function setupRoutes(app: App, { firstAdmin }: SetupRoutesOptions): Promise<void> {
  app.get(
    '/setup',
    {
      schema: {
        tags: ['setup'],
        summary:
          'Whether the first administrator still has to be created, and whether this client needs the setup token to do it.',
        security: [],
        response: {
          200: Type.Object({
            needs_setup: Type.Boolean(),
            token_required: Type.Boolean({ description: 'True unless the client is on loopback and TRUST_PROXY is off.' }),
          }),
        },
      },
    },
    async (request) => ({
      needs_setup: await firstAdmin.needed(),
      token_required: firstAdmin.tokenRequired(request.socket.remoteAddress),
    }),
  );

  app.post(
    '/setup/admin',
    {
      schema: {
        tags: ['setup'],
        summary:
          'Creates the first administrator (or promotes the existing account whose password is given), from loopback or with the setup token; 409 `setup_complete` once one exists.',
        security: [],
        body: Type.Object({
          email: Email,
          password: Password,
          full_name: Type.Optional(Type.Union([FullName, Type.Null()])),
          setup_token: Type.Optional(SetupToken),
        }),
        response: { 201: UserResponse, 200: UserResponse },
      },
    },
    async (request, reply) => {
      const { email, password, full_name: fullName, setup_token: token } = request.body;
      const { user, created } = await firstAdmin.createFirstAdmin(
        { remoteAddress: request.socket.remoteAddress, token },
        { email, password, fullName: fullName ?? null },
      );
      return reply.code(created ? 201 : 200).send(toUserResponse(user));
    },
  );
}
