-- Messages of one user in one month, straight from chatvault's v2 archives, with DuckDB.
--
-- The archives must be laid out in Hive-style partitions, e.g. with the job's key
--   "{job}/dt={window_start:%Y-%m-%d}/{window_start:%H%M%S}-{kind}-{batch}.{ext}"
-- and gzip (or no) compression. The glob below matches the archives only: the manifests beside
-- them (*.manifest.json) never match, so DuckDB never reads them. A message held by several
-- archives (overlapping windows, a users snapshot) is kept once, its last-updated copy, as
-- `chatvault search` does.
--
-- Finish every erasure before querying raw files: `chatvault erase` again. While one is
-- unfinished, an archive and its replacement (`*.erased-<n>.jsonl.gz`) are both there and the
-- glob reads both, the erased user's items included. Nor does DuckDB check signatures: run
-- `chatvault verify` first.
--
-- Set the user and the month first, then run this file, e.g. in the duckdb shell:
--   SET VARIABLE user_id = 'u42';
--   SET VARIABLE month_start = TIMESTAMP '2026-03-01 00:00:00';
--   .read examples/duckdb/messages-of-a-user.sql
SELECT id, cid, created_at, text
FROM (
    SELECT
        item->>'$.id' AS id,
        item->>'$.cid' AS cid,
        CAST(item->>'$.created_at' AS TIMESTAMP) AS created_at,
        CAST(item->>'$.updated_at' AS TIMESTAMP) AS updated_at,
        item->>'$.text' AS text
    FROM read_json('archive/*/dt=*/*.jsonl.gz', format = 'newline_delimited',
                   hive_partitioning = true, columns = {type: 'VARCHAR', item: 'JSON'})
    WHERE type = 'message' AND item->>'$.user.id' = getvariable('user_id')
)
WHERE created_at >= getvariable('month_start')
  AND created_at < getvariable('month_start') + INTERVAL 1 MONTH
QUALIFY row_number() OVER (PARTITION BY id ORDER BY updated_at DESC) = 1
ORDER BY created_at, id;
