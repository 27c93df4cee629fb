-- Extend the leases of the jobs a worker holds in one queue, by its own account.
-- KEYS: the queue's ready set. ARGV: base, worker id, lease expiry, then the ids.
local base, worker, lease = ARGV[1], ARGV[2], ARGV[3]
local mine = base .. ':w:' .. worker
for i = 4, #ARGV do
  if redis.call('SISMEMBER', mine, ARGV[i]) == 1 then
    redis.call('ZADD', base .. ':held', 'XX', lease, ARGV[i])
  end
end
return true
