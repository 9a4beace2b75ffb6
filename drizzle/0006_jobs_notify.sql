-- Wakes idle embedded-queue workers when a job becomes due now (enqueued, retried, handed
-- back). NOTIFY is sent at commit, so a job enqueued inside a caller's transaction wakes the
-- workers only once it is visible. Polling (JOBS_POLL_INTERVAL_MS) remains the fallback.
CREATE OR REPLACE FUNCTION intake_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('intake_jobs', NEW.queue);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER jobs_notify_queued AFTER INSERT OR UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.run_at <= now())
  EXECUTE FUNCTION intake_jobs_notify();
