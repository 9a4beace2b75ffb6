-- 0003_jobs already created these indexes; this step only brings drizzle-kit's snapshot in line
-- with the schema, so that the next generated migration does not create them again.
SELECT 1;
