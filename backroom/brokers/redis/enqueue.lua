-- Store a new job, or return the active job of its queue holding its unique key.
-- KEYS: the queue's ready set. ARGV: base, channel, queue, id, unique key or '',
-- '1' if delayed, then field/value pairs.
return store_job(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], 7)
