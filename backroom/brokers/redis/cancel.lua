-- Cancel a READY job (held ahead or not: it never runs), or ask a RUNNING one
-- to stop. Returns 'cancelled', 'requested', 'finished' or 'unknown'.
-- A workflow job stops its successors (see settle), with `link_error` (JSON).
-- KEYS: the queue's ready set. ARGV: base, job id, now, error (JSON), result TTL in ms or '',
-- key prefix, channel, link error.
local base, id, now, error, ttl_ms = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local prefix, channel, link_error = ARGV[6], ARGV[7], ARGV[8]
local k = job_key(base, id)
local job = redis.call('HMGET', k, 'status', 'worker_id', 'available_at', 'unique_key', 'errors', 'links',
  'limit_key')
if not job[1] then
  return 'unknown'
end
if job[1] == 'RUNNING' then
  redis.call('HSET', k, 'cancel_requested', '1')
  return 'requested'
end
if job[1] ~= 'READY' then
  return 'finished'
end
drop_claim(base, id, job[2])
redis.call('ZREM', base .. ':ready', ready_member(id, job[3]))
if job[7] then  -- parked behind its full limit key (claim.lua)
  redis.call('ZREM', base .. ':parked:' .. job[7], ready_member(id, job[3]))
end
redis.call('ZREM', base .. ':delayed', id)
redis.call('HSET', k, 'status', 'CANCELLED', 'finished_at', now, 'errors', json_append(job[5], error))
finished(base, id, job[4], 'CANCELLED', now, ttl_ms)
if job[6] and link_error ~= '' then
  settle(prefix, channel, ttl_ms, id, 'CANCELLED', job[6], '', now, link_error)
end
return 'cancelled'
