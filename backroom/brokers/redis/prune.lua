-- Delete up to `limit` finished jobs of one status of one queue finished
-- before a moment; return them as {id, ...}.
-- KEYS: the queue's ready set. ARGV: base, status set name, before (us), limit.
local base, status, before, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local finished = base .. ':' .. status
local ids = redis.call('ZRANGEBYSCORE', finished, '-inf', '(' .. before, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  redis.call('DEL', job_key(base, id))
  redis.call('ZREM', finished, id)
  redis.call('ZREM', base .. ':all', id)
end
return #ids
