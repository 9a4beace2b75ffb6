CREATE TABLE "job_workers" (
	"id" text PRIMARY KEY NOT NULL,
	"queues" text[] NOT NULL,
	"hostname" text NOT NULL,
	"pid" integer NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "job_workers_seen_idx" ON "job_workers" USING btree ("seen_at");