import { jobs } from '../jobs/jobs.schema.ts';
import { jobWorkers } from '../jobs/worker-presence.schema.ts';

export * from '../jobs/jobs.schema.ts';
export * from '../jobs/worker-presence.schema.ts';

/**
 * The whole database schema, gathered from each domain's own `*.schema.ts` so that Drizzle
 * (queries and drizzle-kit migrations) sees one definition shared by PGlite and PostgreSQL.
 */
import { apiKeys } from '../api-keys/api-key.schema.ts';
import { accountTokens, authSessions, refreshTokens, revokedTokens } from '../auth/auth.schema.ts';
import { twoFactorChallenges, twoFactorCredentials, twoFactorRecoveryCodes } from '../auth/two-factor.schema.ts';
import { auditEvents } from '../audit/audit.schema.ts';
import { identitySignInFlows, userIdentities } from '../auth/identity.schema.ts';
import { rateLimitCounters } from '../rate-limit/rate-limit.schema.ts';
import { users } from '../users/user.schema.ts';
import { files } from '../files/file.schema.ts';
import { records } from '../records/record.schema.ts';
import { webhookDeliveries, webhookDeliveryAttempts, webhookEndpoints } from '../webhooks/webhook.schema.ts';
import { notificationPreferences } from '../notifications/notification.schema.ts';
import { accountQuotas } from '../quotas/quota.schema.ts';
import { tusUploads } from '../uploads/tus-upload.schema.ts';
import { importSchemas } from '../schemas/import-schema.schema.ts';

export * from '../api-keys/api-key.schema.ts';
export * from '../auth/auth.schema.ts';
export * from '../auth/two-factor.schema.ts';
export * from '../audit/audit.schema.ts';
export * from '../auth/identity.schema.ts';
export * from '../rate-limit/rate-limit.schema.ts';
export * from '../users/user.schema.ts';
export * from '../files/file.schema.ts';
export * from '../records/record.schema.ts';
export * from '../webhooks/webhook.schema.ts';
export * from '../notifications/notification.schema.ts';
export * from '../quotas/quota.schema.ts';
export * from '../uploads/tus-upload.schema.ts';
export * from '../schemas/import-schema.schema.ts';

export const schema = {
  users,
  authSessions,
  refreshTokens,
  revokedTokens,
  accountTokens,
  userIdentities,
  identitySignInFlows,
  auditEvents,
  apiKeys,
  rateLimitCounters,
  files,
  records,
  jobs,
  jobWorkers,
  webhookEndpoints,
  webhookDeliveries,
  webhookDeliveryAttempts,
  notificationPreferences,
  accountQuotas,
  tusUploads,
  importSchemas,
  twoFactorCredentials,
  twoFactorRecoveryCodes,
  twoFactorChallenges,
};

export type Schema = typeof schema;
