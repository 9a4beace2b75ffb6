CREATE TABLE "account_quotas" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"used_bytes" bigint DEFAULT 0 NOT NULL,
	"used_files" integer DEFAULT 0 NOT NULL,
	"max_bytes" bigint,
	"max_files" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "account_quotas_used_check" CHECK ("account_quotas"."used_bytes" >= 0 and "account_quotas"."used_files" >= 0),
	CONSTRAINT "account_quotas_max_check" CHECK (coalesce("account_quotas"."max_bytes", 0) >= 0 and coalesce("account_quotas"."max_files", 0) >= 0)
);
--> statement-breakpoint
CREATE TABLE "tus_uploads" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"length" bigint NOT NULL,
	"offset" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'receiving' NOT NULL,
	"process" boolean DEFAULT true NOT NULL,
	"allow_duplicate" boolean DEFAULT false NOT NULL,
	"file_id" uuid,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tus_uploads_status_check" CHECK ("tus_uploads"."status" in ('receiving', 'completing', 'completed')),
	CONSTRAINT "tus_uploads_offset_check" CHECK ("tus_uploads"."offset" >= 0 and "tus_uploads"."offset" <= "tus_uploads"."length")
);
--> statement-breakpoint
ALTER TABLE "account_quotas" ADD CONSTRAINT "account_quotas_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tus_uploads" ADD CONSTRAINT "tus_uploads_owner_id_users_id_fk" FOREIGN KEY ("owner_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tus_uploads_expires_idx" ON "tus_uploads" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "files_owner_sha256_idx" ON "files" USING btree ("owner_id","sha256");