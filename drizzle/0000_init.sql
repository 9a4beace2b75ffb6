-- The first migration only starts the history; each domain adds its tables in the migrations after it.
SELECT 1;
