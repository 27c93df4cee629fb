-- Helpers every script starts with. Each queue's keys share one hash slot:
-- they start with the queue's base, "{prefix:queue}", passed in ARGV and
-- named in KEYS (its ready set) so that Redis Cluster routes the call.
-- Numbers bound for Redis (scores, times) are passed as strings: Lua would
-- print large ones in exponent form. Values a person may have edited by
-- hand are read defensively: a bad one must not make a script fail.

local function int(n)
  return string.format('%.0f', n)
end

-- A count as backroom's reader takes it (decimal digits), else `default`: Lua's tonumber would also
-- take 'NaN', 'inf' and '0x1f', which the reader calls corrupt, and the two would disagree.
local function whole(value, default)
  if value and string.match(value, '^%-?%d+$') then
    return tonumber(value)
  end
  return default
end

local function job_key(base, id)
  return base .. ':job:' .. id
end

-- Append an encoded JSON value to a JSON array kept as text.
local function json_append(array, item)
  if not array or string.sub(array, 1, 1) ~= '[' or string.sub(array, -1) ~= ']' then
    array = '[]'
  end
  if array == '[]' then
    return '[' .. item .. ']'
  end
  return string.sub(array, 1, -2) .. ',' .. item .. ']'
end

-- A ready job's place in its queue: score 0 for priority 100 up to 200 for
-- priority -100; within a score, the member orders by available_at (in
-- microseconds, zero-padded), then by id.
local function ready_member(id, available_at)
  local at = available_at or '0'
  return string.rep('0', 16 - #at) .. at .. ':' .. id
end

local function make_ready(base, id)
  local job = redis.call('HMGET', job_key(base, id), 'priority', 'available_at')
  local priority = math.max(-100, math.min(100, tonumber(job[1]) or 0))
  redis.call('ZADD', base .. ':ready', 100 - priority, ready_member(id, job[2]))
end

-- Forget that a worker holds a job: its lease, its claim, its running entry.
local function drop_claim(base, id, owner)
  redis.call('ZREM', base .. ':held', id)
  redis.call('ZREM', base .. ':running', id)
  if owner then
    redis.call('SREM', base .. ':w:' .. owner, id)
  end
  redis.call('HDEL', job_key(base, id), 'worker_id')
end

-- Whether the claim (owner, attempt) still holds the job, started or not:
-- a started claim finds it RUNNING at that attempt, an unstarted one READY
-- one attempt before.
local function holds(job, owner, attempt, started)
  if (job[2] or '') ~= owner then
    return false
  end
  if started then
    return job[1] == 'RUNNING' and job[3] == attempt
  end
  return job[1] == 'READY' and whole(job[3], 0) == tonumber(attempt) - 1
end

-- A finished job leaves the active structures: its unique key is freed, and
-- with a result TTL the job expires (its index entries go once as old).
local function finished(base, id, unique_key, status, finished_at, ttl_ms)
  local set = base .. ':' .. string.lower(status)
  redis.call('ZADD', set, finished_at, id)
  if unique_key and redis.call('HGET', base .. ':unique', unique_key) == id then
    redis.call('HDEL', base .. ':unique', unique_key)
  end
  if ttl_ms ~= '' then
    redis.call('PEXPIRE', job_key(base, id), ttl_ms)
    redis.call('ZREMRANGEBYSCORE', set, '-inf', '(' .. int(tonumber(finished_at) - tonumber(ttl_ms) * 1000))
  end
end

-- Store a new job whose fields are ARGV[first], ARGV[first + 1], ... (pairs),
-- or return the fields of the active job of this queue holding its unique key.
local function store_job(base, channel, queue, id, unique_key, delayed, first)
  if unique_key ~= '' then
    local holder = redis.call('HGET', base .. ':unique', unique_key)
    if holder then
      local status = redis.call('HGET', job_key(base, holder), 'status')
      if status == 'READY' or status == 'RUNNING' then
        return redis.call('HGETALL', job_key(base, holder))
      end
    end
    redis.call('HSET', base .. ':unique', unique_key, id)
  end
  local k = job_key(base, id)
  redis.call('HSET', k, unpack(ARGV, first))
  local times = redis.call('HMGET', k, 'enqueued_at', 'available_at')
  redis.call('ZADD', base .. ':all', times[1], id)
  if delayed == '1' then
    redis.call('ZADD', base .. ':delayed', times[2], id)
  else
    make_ready(base, id)
    redis.call('PUBLISH', channel, queue)
  end
  return false
end
