-- Hold up to `limit` ready jobs for a worker, best first across the given
-- queues, and return {held back, job, job...}: held back is '' or in how many
-- microseconds a job a limit held back may be claimed. Jobs stay READY,
-- uncharged, until `record` starts them.
-- KEYS: each queue's ready set, or (every queue, on a single Redis only) the
-- set of queue names. ARGV: worker id, now, lease expiry, limit, the key
-- prefix for every queue or '', the queues' limits (JSON: name -> {concurrency,
-- spacing in us}, each 0 for none), then each queue's base and name.
--
-- Limits (docs/limits.md) live in the queue's slot, so they hold per queue.
-- A job with a `limit_key` counts in that key's group: `:limit:<key>:held`,
-- the ids held, checked afresh each claim (a job no longer held leaves it, so
-- a dead worker's jobs stop counting once taken back), and `:limit:<key>:next`,
-- when its rate next allows a start. A job met while its group is full is
-- parked in `:parked:<key>` (same member as in `ready`), and the key in
-- `:parked`, scored by when to look again: a backlog of held-back jobs is
-- never walked again by claims of other jobs.
local worker, now, lease, limit, prefix = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local queue_limits = cjson.decode(ARGV[6])
local now_us = tonumber(now)
-- Delayed jobs moved to ready per queue and call, so one call stays short.
local PROMOTE_BATCH = 1000
-- Parked keys looked at per queue and call.
local PARKED_BATCH = 50
-- While a concurrency limit is full, how soon to look again (us).
local RECHECK_US = 100000
if limit < 1 then
  return {''}
end

local bases, names = {}, {}
if prefix ~= '' then
  for _, queue in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    bases[#bases + 1] = '{' .. prefix .. ':' .. queue .. '}'
    names[#bases] = queue
  end
else
  for q = 7, #ARGV, 2 do
    bases[#bases + 1] = ARGV[q]
    names[#bases] = ARGV[q + 1]
  end
end

local wait = nil
local function hold_back(us)
  if not wait or us < wait then
    wait = us
  end
end

-- What a group allows now: {left, spacing, taken, next key}. `held` counts its held jobs.
local function open_group(concurrency, spacing, held, next_key)
  local left = math.huge
  if concurrency > 0 then
    left = math.max(0, concurrency - held())
    if left == 0 then
      hold_back(RECHECK_US)
    end
  end
  if spacing > 0 then
    local next_at = tonumber(redis.call('GET', next_key) or '0') or 0
    if next_at > now_us then
      left = 0
      hold_back(next_at - now_us)
    else
      left = math.min(left, 1)
    end
  end
  return {left = left, spacing = spacing, taken = 0, next_key = next_key}
end

local function key_held(base, set)
  local count = 0
  for _, id in ipairs(redis.call('SMEMBERS', set)) do
    local job = redis.call('HMGET', job_key(base, id), 'status', 'worker_id')
    if job[2] and (job[1] == 'READY' or job[1] == 'RUNNING') then
      count = count + 1
    else
      redis.call('SREM', set, id)
    end
  end
  return count
end

-- The group of a job's limit key, from its fields (limit_key, concurrency_limit, rate_limit).
local groups = {}
local function key_group(base, key, concurrency, rate)
  local name = base .. ':limit:' .. key
  if not groups[name] then
    local count, seconds = string.match(rate or '', '^(%d+)/(%d+)$')
    local spacing = 0
    if count and tonumber(count) > 0 then
      spacing = math.floor(tonumber(seconds) * 1e6 / tonumber(count))
    end
    local held = function() return key_held(base, name .. ':held') end
    groups[name] = open_group(whole(concurrency, 0), spacing, held, name .. ':next')
  end
  return groups[name]
end

-- When a full group may allow a job again: its rate's next start, or a recheck of its count.
local function recheck_at(group)
  local at = now_us + RECHECK_US
  if group.spacing > 0 then
    local next_at = tonumber(redis.call('GET', group.next_key) or '0') or 0
    at = math.max(now_us + 1000, next_at, now_us + group.spacing * group.taken)
  end
  return at
end

-- The queues the claim serves, with their own group if they have limits.
local open = {}
for i, base in ipairs(bases) do
  -- A paused queue keeps its jobs where they are: it is left out of the claim.
  if redis.call('EXISTS', base .. ':paused') == 0 then
    local limits = queue_limits[names[i]]
    local group = nil
    if limits then
      local held = function() return redis.call('ZCARD', base .. ':held') end
      group = open_group(limits[1], limits[2], held, base .. ':qlimit:next')
    end
    if not group or group.left > 0 then
      open[#open + 1] = {base = base, group = group}
    end
  end
end

for _, q in ipairs(open) do
  local delayed = q.base .. ':delayed'
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, PROMOTE_BATCH)) do
    redis.call('ZREM', delayed, id)
    make_ready(q.base, id)
  end
end

-- The best entries of the parked keys that are due and whose group allows a job now.
local function parked_candidates(q, need, candidates)
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', q.base .. ':parked', '-inf', now, 'LIMIT', 0, PARKED_BATCH)) do
    local set = q.base .. ':parked:' .. key
    local head = redis.call('ZRANGE', set, 0, 0)
    if not head[1] then
      redis.call('ZREM', q.base .. ':parked', key)
    else
      local fields = redis.call('HMGET', job_key(q.base, string.sub(head[1], 18)), 'concurrency_limit', 'rate_limit')
      local group = key_group(q.base, key, fields[1], fields[2])
      if group.left > 0 then
        local entries = redis.call('ZRANGE', set, 0, math.min(need, group.left) - 1, 'WITHSCORES')
        for i = 1, #entries, 2 do
          candidates[#candidates + 1] = {tonumber(entries[i + 1]), entries[i], q, key}
        end
      else
        redis.call('ZADD', q.base .. ':parked', recheck_at(group), key)
      end
    end
  end
end

-- An entry whose job is not READY (a hash edited by hand, or gone) is dropped and the next best
-- taken in its place; an entry whose key's group is full is parked (and its queue's next looked
-- at): fewer than `limit` jobs come back only when the queues hold no more that limits allow.
local jobs = {''}
local first = true
local more = true
while more and #jobs - 1 < limit do
  more = false
  local need = limit - (#jobs - 1)
  -- Each queue's best `need` (and, once, its due parked keys' best): the claim takes the best
  -- `need` of all.
  local candidates = {}
  for _, q in ipairs(open) do
    if not q.group or q.group.left > 0 then
      local entries = redis.call('ZRANGE', q.base .. ':ready', 0, need - 1, 'WITHSCORES')
      for i = 1, #entries, 2 do
        candidates[#candidates + 1] = {tonumber(entries[i + 1]), entries[i], q, nil}
      end
      if first then
        parked_candidates(q, need, candidates)
      end
    end
  end
  first = false
  table.sort(candidates, function(a, b)
    if a[1] ~= b[1] then
      return a[1] < b[1]
    end
    return a[2] < b[2]
  end)
  for i = 1, math.min(need, #candidates) do
    local score, member, q, from_key = candidates[i][1], candidates[i][2], candidates[i][3], candidates[i][4]
    local base = q.base
    local source = from_key and (base .. ':parked:' .. from_key) or (base .. ':ready')
    local id = string.sub(member, 18)
    local k = job_key(base, id)
    local job = redis.call('HMGET', k, 'status', 'limit_key', 'concurrency_limit', 'rate_limit')
    local group = job[1] == 'READY' and job[2] and key_group(base, job[2], job[3], job[4]) or nil
    if job[1] ~= 'READY' then
      redis.call('ZREM', source, member)
      more = true
    elseif q.group and q.group.left <= 0 then
      more = true  -- the queue is full: its entries stay, and the other queues' next are looked at
    elseif group and group.left <= 0 then
      if not from_key then
        redis.call('ZREM', source, member)
        redis.call('ZADD', base .. ':parked:' .. job[2], score, member)
        redis.call('ZADD', base .. ':parked', recheck_at(group), job[2])
      end
      more = true
    else
      redis.call('ZREM', source, member)
      redis.call('HSET', k, 'worker_id', worker)
      redis.call('ZADD', base .. ':held', lease, id)
      redis.call('SADD', base .. ':w:' .. worker, id)
      for _, g in ipairs({q.group or false, group or false}) do
        if g then
          g.left = g.left - 1
          g.taken = g.taken + 1
        end
      end
      if group then
        redis.call('SADD', base .. ':limit:' .. job[2] .. ':held', id)
      end
      jobs[#jobs + 1] = redis.call('HGETALL', k)
    end
  end
end

-- A rate's next start: one spacing after this claim per job it took.
local function advance(g)
  if g and g.taken > 0 and g.spacing > 0 then
    redis.call('SET', g.next_key, int(now_us + g.spacing * g.taken))
  end
end
for _, g in pairs(groups) do
  advance(g)
end
for _, q in ipairs(open) do
  advance(q.group)
  -- Parked jobs wait for their key: the worker claims again when the first key may allow one
  -- (a key whose parked jobs all left, cancelled, is forgotten).
  for _ = 1, PARKED_BATCH do
    local first_key = redis.call('ZRANGE', q.base .. ':parked', 0, 0, 'WITHSCORES')
    if not first_key[2] then
      break
    end
    if redis.call('EXISTS', q.base .. ':parked:' .. first_key[1]) == 1 then
      hold_back(math.max(1000, tonumber(first_key[2]) - now_us))
      break
    end
    redis.call('ZREM', q.base .. ':parked', first_key[1])
  end
end
jobs[1] = wait and int(wait) or ''
return jobs
