-- Record that a worker lives and extend the leases of the jobs it holds.
-- ARGV: prefix, worker id, now, lease expiry, worker description (JSON).
local worker, now, lease, info = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('HSET', key('workers'), worker, info)
redis.call('ZADD', key('heartbeats'), now, worker)
for _, id in ipairs(redis.call('SMEMBERS', key('worker', worker, 'claims'))) do
  redis.call('ZADD', key('leases'), 'XX', lease, id)
end
return true
