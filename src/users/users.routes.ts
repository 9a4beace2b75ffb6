import { Type } from '../vendor/typebox.ts';
import { Id, PageOf, pageQueryFields, Text } from '../http/schema-types.ts';
import { AUTH_SECURITY, requireUser } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { FullName, Password, toUserResponse, UserResponse } from './user.contract.ts';
import type { UserRole, UserRow } from './user.schema.ts';
import type { UserService } from './user.service.ts';
import { QuotaResponse } from './account-quota.contract.ts';

/**
 * What these routes need from authentication (a port, so that users/ does not import auth/):
 * a password change ends other sessions, and demoting or disabling an account ends all of them.
 */
export interface AccountSecurity {
  changePassword(
    userId: string,
    currentSessionId: string | null,
    input: { currentPassword: string; newPassword: string },
    clientIp?: string | null,
  ): Promise<void>;
  adminUpdateUser(
    actorId: string,
    userId: string,
    patch: { role?: UserRole; isActive?: boolean },
    clientIp?: string | null,
  ): Promise<UserRow>;
}

export interface UsersRoutesOptions {
  users: UserService;
  auth: AccountSecurity;
  /** The signed-in user's storage usage and limits, shown in `GET /users/me`. */
  quota: (userId: string) => Promise<QuotaResponse>;
}

// Optional in the schema only, so that a user as other answers give it (login) is still a Me; always present here.
const MeResponse = Type.Intersect([UserResponse, Type.Object({ quota: Type.Optional(QuotaResponse) })], { title: 'Me' });

const Page = pageQueryFields();

export async function usersRoutes(app: App, options: UsersRoutesOptions): Promise<void> {
  const { users, auth } = options;

  app.get(
    '/users/me',
    {
      preHandler: app.authenticate,
      config: { allowUnverified: true },
      schema: {
        tags: ['users'],
        summary: 'The signed-in user, with their storage usage and limits.',
        security: AUTH_SECURITY,
        response: { 200: MeResponse },
      },
    },
    async (request) => {
      const id = requireUser(request).id;
      return { ...toUserResponse(await users.get(id)), quota: await options.quota(id) };
    },
  );

  app.patch(
    '/users/me',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Changes the signed-in user’s own profile (full name).',
        security: AUTH_SECURITY,
        body: Type.Object({ full_name: Type.Union([FullName, Type.Null()]) }),
        response: { 200: UserResponse },
      },
    },
    async (request) => toUserResponse(await users.update(requireUser(request).id, { fullName: request.body.full_name })),
  );

  app.post(
    '/users/me/password',
    {
      preHandler: app.authenticate,
      schema: {
        tags: ['users'],
        summary: 'Changes the password and signs out every other session of this user.',
        security: AUTH_SECURITY,
        body: Type.Object({ current_password: Type.String({ minLength: 1, maxLength: 128 }), new_password: Password }),
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const user = requireUser(request);
      await auth.changePassword(
        user.id,
        user.session?.id ?? null,
        {
          currentPassword: request.body.current_password,
          newPassword: request.body.new_password,
        },
        request.ip,
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/users',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['users'],
        summary: 'Admin: lists users, optionally those whose email contains `email`.',
        security: AUTH_SECURITY,
        querystring: Type.Object({ email: Type.Optional(Text({ minLength: 1, maxLength: 254 })), ...Page }),
        response: {
          200: PageOf(UserResponse),
        },
      },
    },
    async (request) => {
      const { email, limit, offset } = request.query;
      const page = await users.list({ email, limit, offset });
      return { items: page.items.map(toUserResponse), total: page.total, limit, offset };
    },
  );

  app.patch(
    '/users/:id',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags: ['users'],
        summary: 'Admin: changes a user’s role or deactivates them (their tokens stop working at once).',
        security: AUTH_SECURITY,
        params: Type.Object({ id: Id() }),
        body: Type.Object(
          {
            role: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('admin')])),
            is_active: Type.Optional(Type.Boolean()),
          },
          { minProperties: 1 },
        ),
        response: { 200: UserResponse },
      },
    },
    async (request) => {
      const row = await auth.adminUpdateUser(
        requireUser(request).id,
        request.params.id,
        { role: request.body.role, isActive: request.body.is_active },
        request.ip,
      );
      return toUserResponse(row);
    },
  );
}
