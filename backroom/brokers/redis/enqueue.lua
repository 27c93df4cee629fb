-- Store a new job, or return the active job holding its unique key.
-- ARGV: prefix, id, queue, unique key or '', '1' if delayed, then field/value pairs.
return store_job(ARGV[2], ARGV[3], ARGV[4], ARGV[5], 6)
