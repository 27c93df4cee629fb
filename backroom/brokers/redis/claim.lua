-- Hold up to `limit` ready jobs for a worker, best first across the given
-- queues, and return them. They stay READY, uncharged, until `record` starts them.
-- KEYS: each queue's ready set, or (every queue, on a single Redis only) the
-- set of queue names. ARGV: worker id, now, lease expiry, limit, then the key
-- prefix for every queue or '' followed by each queue's base and name.
local worker, now, lease, limit, prefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
-- Delayed jobs moved to ready per queue and call, so one call stays short.
local PROMOTE_BATCH = 1000
if limit < 1 then
  return {}
end

local bases = {}
if prefix ~= '' then
  for _, queue in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    bases[#bases + 1] = '{' .. prefix .. ':' .. queue .. '}'
  end
else
  for q = 6, #ARGV, 2 do
    bases[#bases + 1] = ARGV[q]
  end
end

-- A paused queue keeps its jobs where they are: it is left out of the claim.
local open = {}
for _, base in ipairs(bases) do
  if redis.call('EXISTS', base .. ':paused') == 0 then
    open[#open + 1] = base
  end
end
bases = open

for _, base in ipairs(bases) do
  local delayed = base .. ':delayed'
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, PROMOTE_BATCH)) do
    redis.call('ZREM', delayed, id)
    make_ready(base, id)
  end
end

-- An entry whose job is not READY (a hash edited by hand, or gone) is dropped and the next best
-- taken in its place: fewer than `limit` jobs come back only when the queues hold no more.
local jobs = {}
local dropped = true
while dropped and #jobs < limit do
  dropped = false
  local need = limit - #jobs
  -- Each queue's best `need`, merged: the claim takes the best `need` of all.
  local candidates = {}
  for _, base in ipairs(bases) do
    local entries = redis.call('ZRANGE', base .. ':ready', 0, need - 1, 'WITHSCORES')
    for i = 1, #entries, 2 do
      candidates[#candidates + 1] = {tonumber(entries[i + 1]), entries[i], base}
    end
  end
  table.sort(candidates, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  for i = 1, math.min(need, #candidates) do
    local member, base = candidates[i][2], candidates[i][3]
    local id = string.sub(member, 18)
    local k = job_key(base, id)
    redis.call('ZREM', base .. ':ready', member)
    if redis.call('HGET', k, 'status') == 'READY' then
      redis.call('HSET', k, 'worker_id', worker)
      redis.call('ZADD', base .. ':held', lease, id)
      redis.call('SADD', base .. ':w:' .. worker, id)
      jobs[#jobs + 1] = redis.call('HGETALL', k)
    else
      dropped = true
    end
  end
end
return jobs
