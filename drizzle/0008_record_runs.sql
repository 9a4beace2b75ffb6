-- Records written before runs existed become one complete run with the nil UUID as its id,
-- and every file with records points at it, so nothing a user could read disappears.
ALTER TABLE "records" ADD COLUMN "run" uuid DEFAULT '00000000-0000-0000-0000-000000000000' NOT NULL;--> statement-breakpoint
ALTER TABLE "records" ALTER COLUMN "run" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "records_run" uuid;--> statement-breakpoint
UPDATE "files" SET "records_run" = '00000000-0000-0000-0000-000000000000' WHERE EXISTS (SELECT 1 FROM "records" WHERE "records"."file_id" = "files"."id");--> statement-breakpoint
ALTER TABLE "records" DROP CONSTRAINT "records_file_id_row_pk";--> statement-breakpoint
ALTER TABLE "records" ADD CONSTRAINT "records_file_id_run_row_pk" PRIMARY KEY("file_id","run","row");
