import { QuotaResponse } from '../users/account-quota.contract.ts';
import type { QuotaStatus } from './quota.service.ts';

export { QuotaResponse };

export function toQuotaResponse(status: QuotaStatus): QuotaResponse {
  return { usage: status.usage, limits: status.limits, overrides: status.overrides };
}
