-- Extend the leases of the jobs a worker holds in one queue.
-- KEYS: the queue's ready set. ARGV: base, worker id, lease expiry.
local base, worker, lease = ARGV[1], ARGV[2], ARGV[3]
for _, id in ipairs(redis.call('SMEMBERS', base .. ':w:' .. worker)) do
  redis.call('ZADD', base .. ':held', 'XX', lease, id)
end
return true
