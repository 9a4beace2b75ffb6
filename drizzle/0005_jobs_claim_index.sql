DROP INDEX "jobs_claim_idx";--> statement-breakpoint
CREATE INDEX "jobs_undispatched_idx" ON "jobs" USING btree ("created_at") WHERE "jobs"."status" = 'queued' and "jobs"."dispatched_at" is null;--> statement-breakpoint
CREATE INDEX "jobs_claim_idx" ON "jobs" USING btree ("queue","run_at","created_at") WHERE "jobs"."status" = 'queued';