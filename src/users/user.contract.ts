import { Type, type Static } from '../vendor/typebox.ts';
import { SAFE_LINE_PATTERN, Text } from '../http/schema-types.ts';
import type { UserRow } from './user.schema.ts';

export const UserResponse = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.String(),
  full_name: Type.Union([Type.String(), Type.Null()]),
  role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
  is_active: Type.Boolean(),
  email_verified: Type.Boolean({ description: 'Whether the address was proven by a link sent to it.' }),
  pending_email: Type.Union([Type.String(), Type.Null()], {
    description: 'An address asked for that becomes `email` once its verification link is followed.',
  }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});
export type UserResponse = Static<typeof UserResponse>;

export const Email = Type.String({ format: 'email', minLength: 3, maxLength: 254, pattern: SAFE_LINE_PATTERN });
/** 8–128: long enough to resist guessing, short enough that hashing cannot be used to exhaust memory or time. */
export const Password = Type.String({ minLength: 8, maxLength: 128 });
export const FullName = Text({ minLength: 1, maxLength: 200 });

export function toUserResponse(row: UserRow): UserResponse {
  return {
    id: row.id,
    email: row.email,
    full_name: row.fullName,
    role: row.role,
    is_active: row.isActive,
    email_verified: row.emailVerifiedAt !== null,
    pending_email: row.pendingEmail,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}
