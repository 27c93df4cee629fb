-- Delete up to `limit` finished jobs of one status finished before a moment,
-- across every queue; return how many were deleted.
-- ARGV: prefix, status set name ('successful', 'failed', 'cancelled'), before (us), limit
local status, before, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local deleted = 0

for _, queue in ipairs(redis.call('SMEMBERS', key('queues'))) do
  local finished = key('queue', queue, status)
  local ids = redis.call('ZRANGEBYSCORE', finished, '-inf', '(' .. before, 'LIMIT', 0, limit - deleted)
  for _, id in ipairs(ids) do
    redis.call('DEL', job_key(id))
    redis.call('ZREM', finished, id)
  end
  deleted = deleted + #ids
  if deleted >= limit then
    break
  end
end
return deleted
