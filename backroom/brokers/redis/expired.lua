-- The held jobs of some queues whose lease ran out, or whose worker is dead:
-- each as {queue, id, worker id, status, attempts, max attempts, task path, links}.
-- Leases left without a held job (edited away) are dropped.
-- KEYS: each queue's ready set. ARGV: now, limit, number of dead workers,
-- their ids, then each queue's base and name.
local now, limit, dead_count = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local found = {}
for q = 4 + dead_count, #ARGV, 2 do
  local base, queue = ARGV[q], ARGV[q + 1]
  local ids = redis.call('ZRANGEBYSCORE', base .. ':held', '-inf', '(' .. now, 'LIMIT', 0, limit)
  for d = 4, 3 + dead_count do
    for _, id in ipairs(redis.call('SMEMBERS', base .. ':w:' .. ARGV[d])) do
      ids[#ids + 1] = id
    end
  end
  local seen = {}
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      local job = redis.call('HMGET', job_key(base, id), 'status', 'worker_id', 'attempts', 'max_attempts', 'task_path', 'links')
      if (job[1] == 'READY' and job[2]) or job[1] == 'RUNNING' then
        found[#found + 1] = {queue, id, job[2] or '', job[1], job[3] or '0', job[4] or '1', job[5] or '', job[6] or ''}
      else
        redis.call('ZREM', base .. ':held', id)
        redis.call('ZREM', base .. ':running', id)
      end
    end
  end
end
return found
