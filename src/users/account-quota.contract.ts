import { Type, type Static } from '../vendor/typebox.ts';
import { Nullable } from '../http/schema-types.ts';

// An account's storage quota as the API shows it: in `GET /users/me` and in the admin's quota
// routes (src/quotas), which fill it in.
const Amount = Type.Object({
  bytes: Type.Integer({ description: 'Stored bytes, derived blobs (thumbnails) and uploads in flight included.' }),
  files: Type.Integer(),
});
const Limits = Type.Object({
  bytes: Nullable(Type.Integer({ description: 'null: unlimited' })),
  files: Nullable(Type.Integer({ description: 'null: unlimited' })),
});

export const QuotaResponse = Type.Object(
  {
    usage: Amount,
    limits: Limits,
    overrides: Type.Object(
      {
        bytes: Nullable(Type.Integer()),
        files: Nullable(Type.Integer()),
      },
      { description: "The account's own limits set by an admin; null where the configured default applies." },
    ),
  },
  { title: 'Quota' },
);
export type QuotaResponse = Static<typeof QuotaResponse>;
