-- Mark up to `limit` ready jobs RUNNING for a worker, best first across its
-- queues (every known queue when it names none), and return them.
-- ARGV: prefix, worker id, now, lease expiry, limit, then queue names.
local worker, now, lease, limit = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
-- Delayed jobs moved to ready per queue and call, so one call stays short.
local PROMOTE_BATCH = 1000
if limit < 1 then
  return {}
end

local queues = {}
for i = 6, #ARGV do
  queues[#queues + 1] = ARGV[i]
end
if #queues == 0 then
  queues = redis.call('SMEMBERS', key('queues'))
end

for _, queue in ipairs(queues) do
  local delayed = key('queue', queue, 'delayed')
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, PROMOTE_BATCH)
  for _, id in ipairs(due) do
    redis.call('ZREM', delayed, id)
    make_ready(id, queue)
  end
end

-- Each queue's best `limit`, merged: the claim takes the best `limit` of all.
local candidates = {}
for _, queue in ipairs(queues) do
  local entries = redis.call('ZRANGE', key('queue', queue, 'ready'), 0, limit - 1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    candidates[#candidates + 1] = {tonumber(entries[i + 1]), entries[i], queue}
  end
end
table.sort(candidates, function(a, b)
  if a[1] ~= b[1] then
    return a[1] < b[1]
  end
  return a[2] < b[2]
end)

local jobs = {}
for i = 1, math.min(limit, #candidates) do
  local member, queue = candidates[i][2], candidates[i][3]
  local id = string.sub(member, 18)
  local k = job_key(id)
  redis.call('ZREM', key('queue', queue, 'ready'), member)
  redis.call('HINCRBY', k, 'attempts', 1)
  redis.call('HSET', k, 'status', 'RUNNING', 'worker_id', worker, 'last_attempted_at', now,
    'worker_ids', json_append(redis.call('HGET', k, 'worker_ids'), cjson.encode(worker)))
  redis.call('HSETNX', k, 'started_at', now)
  redis.call('ZADD', key('leases'), lease, id)
  redis.call('SADD', key('worker', worker, 'claims'), id)
  redis.call('ZADD', key('queue', queue, 'running'), now, id)
  jobs[#jobs + 1] = redis.call('HGETALL', k)
end
return jobs
