CREATE TABLE "records" (
	"file_id" uuid NOT NULL,
	"row" integer NOT NULL,
	"data" jsonb NOT NULL,
	CONSTRAINT "records_file_id_row_pk" PRIMARY KEY("file_id","row")
);
--> statement-breakpoint
ALTER TABLE "records" ADD CONSTRAINT "records_file_id_files_id_fk" FOREIGN KEY ("file_id") REFERENCES "public"."files"("id") ON DELETE cascade ON UPDATE no action;