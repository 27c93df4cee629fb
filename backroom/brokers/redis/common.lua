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

-- Queue a stored job: delayed until `due_at` (a time in us) if given, else ready now, its queue's
-- idle workers woken.
local function place(base, channel, queue, id, due_at)
  if due_at then
    redis.call('ZADD', base .. ':delayed', due_at, id)
  else
    make_ready(base, id)
    redis.call('PUBLISH', channel, queue)
  end
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

-- Store a new job whose fields are ARGV[first] up to ARGV[last] (pairs; last nil: to the end), or
-- return the fields of the active job of this queue holding its unique key. `delayed`: '1' for a job
-- due later, 'w' for a workflow job waiting for its parents (in no queue until they release it).
local function store_job(base, channel, queue, id, unique_key, delayed, first, last)
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
  redis.call('HSET', k, unpack(ARGV, first, last))
  local times = redis.call('HMGET', k, 'enqueued_at', 'available_at')
  redis.call('ZADD', base .. ':all', times[1], id)
  if delayed ~= 'w' then
    place(base, channel, queue, id, delayed == '1' and times[2] or nil)
  end
  return false
end

-- Workflow links (backroom/jobs/links.py): a linked job's final outcome releases or cancels the jobs
-- that wait on it, in the same script as the outcome. `links` names the queue of every job it lists;
-- on a Redis Cluster they all share one queue (enqueue refuses others), so the script stays in one slot.
-- Links as stored, with every list present; links edited into nonsense read as none (the job's reader
-- names the defect), so that no outcome ever fails to be written because of them.
local function read_links(text)
  local ok, links = pcall(cjson.decode, text or '')
  if not ok or type(links) ~= 'table' then
    links = {}
  end
  for _, name in ipairs({'parents', 'children', 'queues'}) do
    if type(links[name]) ~= 'table' then
      links[name] = {}
    end
  end
  return links
end

local function linked_base(prefix, links, id)
  local queue = links.queues[id]
  return type(queue) == 'string' and '{' .. prefix .. ':' .. queue .. '}' or nil
end

-- End a workflow job that still waits CANCELLED, unrun, with `error` (JSON); return its links
-- (decoded) if it waited, else nil.
local function cancel_waiting(prefix, links, id, now, error, ttl_ms)
  local base = linked_base(prefix, links, id)
  if not base then
    return nil
  end
  local k = job_key(base, id)
  local job = redis.call('HMGET', k, 'status', 'waiting_for', 'errors', 'links')
  if job[1] ~= 'READY' or whole(job[2], 0) < 1 then
    return nil
  end
  redis.call('HSET', k, 'status', 'CANCELLED', 'finished_at', now, 'waiting_for', '0',
    'errors', json_append(job[3], error))
  finished(base, id, nil, 'CANCELLED', now, ttl_ms)
  return read_links(job[4])
end

-- Count one parent off a waiting job; at none left, give it its first argument (`value`, JSON, or
-- its parents' results) and queue it. Among parents finishing at once, exactly one gets there.
local function count_down(prefix, channel, links, id, now, value)
  local queue, base = links.queues[id], linked_base(prefix, links, id)
  if not base then
    return
  end
  local k = job_key(base, id)
  local job = redis.call('HMGET', k, 'status', 'waiting_for', 'args', 'run_after', 'links')
  local waiting = whole(job[2], 0)
  if job[1] ~= 'READY' or waiting < 1 then
    return
  end
  redis.call('HSET', k, 'waiting_for', tostring(waiting - 1))
  if waiting > 1 then
    return
  end
  local own = read_links(job[5])
  if own.takes == 'results' then
    local values = {}
    for i, parent in ipairs(own.parents) do
      local parent_base = linked_base(prefix, own, parent)
      values[i] = parent_base and redis.call('HGET', job_key(parent_base, parent), 'return_value') or 'null'
    end
    value = '[' .. table.concat(values, ',') .. ']'
  end
  local args = job[3] or '[]'
  args = args == '[]' and '[' .. value .. ']' or '[' .. value .. ',' .. string.sub(args, 2)
  local due = job[4] and tonumber(job[4]) > tonumber(now) and job[4] or now
  redis.call('HSET', k, 'args', args, 'available_at', due)
  place(base, channel, queue, id, due ~= now and due or nil)
end

-- Apply the links (JSON) of job `id`, which just ended with `status` at `now`; `error` (JSON) is what
-- the jobs it stops record: its successors after a failure, on_failure after the workflow's success.
local function settle(prefix, channel, ttl_ms, id, status, links_text, return_value, now, error)
  local links = read_links(links_text)
  if status == 'SUCCESSFUL' then
    for _, child in ipairs(links.children) do
      count_down(prefix, channel, links, child, now, return_value ~= '' and return_value or 'null')
    end
    if links.last and links.on_failure then
      cancel_waiting(prefix, links, links.on_failure, now, error, ttl_ms)
    end
    return
  end
  if links.on_failure then
    count_down(prefix, channel, links, links.on_failure, now, cjson.encode(id))
  end
  -- The successors of a cancelled successor never run either.
  local doomed = {}
  for _, child in ipairs(links.children) do
    doomed[#doomed + 1] = {links, child}
  end
  while #doomed > 0 do
    local entry = table.remove(doomed)
    local own = cancel_waiting(prefix, entry[1], entry[2], now, error, ttl_ms)
    if own then
      for _, child in ipairs(own.children) do
        doomed[#doomed + 1] = {own, child}
      end
    end
  end
end
