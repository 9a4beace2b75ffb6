import { Type } from '../vendor/typebox.ts';
import { AUTH_SECURITY } from '../http/caller.ts';
import type { App } from '../http/app-types.ts';
import { Id, Nullable } from '../http/schema-types.ts';
import { QuotaResponse, toQuotaResponse } from './quota.contract.ts';
import type { QuotaService } from './quota.service.ts';

const Params = Type.Object({ id: Id() });
const LimitsBody = Type.Object(
  {
    max_bytes: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }))),
    max_files: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 2_147_483_647 }))),
  },
  { minProperties: 1 },
);

/** Admin view and setting of an account's quota (each user sees their own in `GET /users/me`). */
export async function quotasRoutes(app: App, options: { quotas: QuotaService }): Promise<void> {
  const { quotas } = options;
  const tags = ['users'];

  app.get(
    '/users/:id/quota',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags,
        security: AUTH_SECURITY,
        summary: "Admin: a user's storage usage and limits.",
        params: Params,
        response: { 200: QuotaResponse },
      },
    },
    async (request) => toQuotaResponse(await quotas.setLimits(request.params.id, {})),
  );

  app.put(
    '/users/:id/quota',
    {
      preHandler: app.requireAdmin,
      schema: {
        tags,
        security: AUTH_SECURITY,
        summary: "Admin: sets a user's own storage limits (null goes back to the configured default).",
        description:
          'Lowering a limit below the current usage removes nothing: further uploads are refused until usage falls under it.',
        params: Params,
        body: LimitsBody,
        response: { 200: QuotaResponse },
      },
    },
    async (request) => {
      const { max_bytes, max_files } = request.body;
      return toQuotaResponse(
        await quotas.setLimits(request.params.id, {
          ...(max_bytes !== undefined ? { bytes: max_bytes } : {}),
          ...(max_files !== undefined ? { files: max_files } : {}),
        }),
      );
    },
  );
}
