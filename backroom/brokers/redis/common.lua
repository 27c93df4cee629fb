-- Helpers every script starts with. ARGV[1] is the key prefix; each script's
-- own arguments follow it. Numbers bound for Redis (scores, times) are passed
-- as strings: Lua would print large ones in exponent form.

local prefix = ARGV[1]

local function key(...)
  return prefix .. ':' .. table.concat({...}, ':')
end

local function job_key(id)
  return prefix .. ':job:' .. id
end

local function int(n)
  return string.format('%.0f', n)
end

-- Append an encoded JSON value to a JSON array kept as text.
local function json_append(array, item)
  if array == '[]' then
    return '[' .. item .. ']'
  end
  return string.sub(array, 1, -2) .. ',' .. item .. ']'
end

-- A ready job's place in its queue: score 0 for priority 100 up to 200 for
-- priority -100; within a score, the member orders by available_at (in
-- microseconds, zero-padded), then by id.
local function make_ready(id, queue)
  local job = redis.call('HMGET', job_key(id), 'priority', 'available_at')
  local at = job[2]
  redis.call('ZADD', key('queue', queue, 'ready'), 100 - tonumber(job[1]),
    string.rep('0', 16 - #at) .. at .. ':' .. id)
end

-- The job's fields when the claim (owner, attempt) still holds it, else nil.
local function claimed(id, owner, attempt)
  local job = redis.call('HMGET', job_key(id), 'status', 'worker_id', 'attempts', 'queue_name',
    'unique_key', 'worker_ids')
  if job[1] == 'RUNNING' and job[2] == owner and job[3] == attempt then
    return job
  end
  return nil
end

-- Forget that a worker holds a job: its lease, its claim, its running entry.
local function drop_claim(id, owner, queue)
  redis.call('ZREM', key('leases'), id)
  redis.call('SREM', key('worker', owner, 'claims'), id)
  redis.call('ZREM', key('queue', queue, 'running'), id)
  redis.call('HDEL', job_key(id), 'worker_id')
end

-- Record how an attempt ended, if the claim still holds; return whether it did.
-- status READY waits in the delayed set until available_at; others are final.
local function finish(id, owner, attempt, status, finished_at, available_at, return_value, error,
                      ttl_ms)
  local job = claimed(id, owner, attempt)
  if not job then
    return false
  end
  local k, queue, unique_key = job_key(id), job[4], job[5]
  drop_claim(id, owner, queue)
  -- One HSET for every field written: a batch of outcomes runs this once per job.
  local fields = {'status', status}
  if error ~= '' then
    fields[#fields + 1] = 'errors'
    fields[#fields + 1] = json_append(redis.call('HGET', k, 'errors'), error)
  end
  if available_at ~= '' then
    fields[#fields + 1] = 'available_at'
    fields[#fields + 1] = available_at
  end
  if return_value ~= '' then
    fields[#fields + 1] = 'return_value'
    fields[#fields + 1] = return_value
  else
    redis.call('HDEL', k, 'return_value')
  end
  if status == 'READY' then
    redis.call('HSET', k, unpack(fields))
    redis.call('ZADD', key('queue', queue, 'delayed'), redis.call('HGET', k, 'available_at'), id)
    return true
  end
  fields[#fields + 1] = 'finished_at'
  fields[#fields + 1] = finished_at
  redis.call('HSET', k, unpack(fields))
  local finished = key('queue', queue, string.lower(status))
  redis.call('ZADD', finished, finished_at, id)
  if unique_key and redis.call('HGET', key('unique'), unique_key) == id then
    redis.call('HDEL', key('unique'), unique_key)
  end
  if ttl_ms ~= '' then
    -- The job expires; its index entry goes once it is as old as that.
    redis.call('PEXPIRE', k, ttl_ms)
    redis.call('ZREMRANGEBYSCORE', finished, '-inf',
      '(' .. int(tonumber(finished_at) - tonumber(ttl_ms) * 1000))
  end
  return true
end


-- Store a new job whose fields are ARGV[first], ARGV[first + 1], ... (pairs),
-- or return the fields of the active job holding its unique key.
local function store_job(id, queue, unique_key, delayed, first)
  if unique_key ~= '' then
    local holder = redis.call('HGET', key('unique'), unique_key)
    if holder then
      local status = redis.call('HGET', job_key(holder), 'status')
      if status == 'READY' or status == 'RUNNING' then
        return redis.call('HGETALL', job_key(holder))
      end
    end
    redis.call('HSET', key('unique'), unique_key, id)
  end
  redis.call('HSET', job_key(id), unpack(ARGV, first))
  redis.call('SADD', key('queues'), queue)
  if delayed == '1' then
    redis.call('ZADD', key('queue', queue, 'delayed'), redis.call('HGET', job_key(id), 'available_at'), id)
  else
    make_ready(id, queue)
    redis.call('PUBLISH', key('enqueued'), queue)
  end
  return false
end
