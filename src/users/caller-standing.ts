import { users } from './user.schema.ts';

/**
 * What another feature may read of an account while it authenticates a request, in the same
 * statement as its own tables: one round trip per request (bench/README.md, issue 10). The users
 * feature publishes these columns and the key to join on; everything else of the table stays its
 * own (docs/architecture.md, "Who owns which table").
 */
export const callerStanding = {
  table: users,
  userId: users.id,
  columns: { role: users.role, isActive: users.isActive, emailVerifiedAt: users.emailVerifiedAt },
};
