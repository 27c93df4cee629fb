-- Write starts and outcomes of one worker's jobs in one queue; return the ids
-- whose claim no longer held (taken back, cancelled), which change nothing.
-- A workflow job's final outcome applies its links here too (see settle).
-- KEYS: the queue's ready set. ARGV: base, owner, result TTL in ms or '', key
-- prefix, channel, then per transition: id, attempt, status, started_at,
-- finished_at, available_at, return value, error (each '' when absent), '1' if
-- the worker was lost, and the error (JSON) its links write on the jobs they stop.
local base, owner, ttl_ms, prefix, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local refused = {}
for i = 6, #ARGV, 10 do
  local id, attempt, status, started_at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local finished_at, available_at, return_value, error, lost, link_error =
    ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local k = job_key(base, id)
  local job = redis.call('HMGET', k, 'status', 'worker_id', 'attempts', 'unique_key', 'worker_ids', 'errors',
    'links', 'limit_key')
  -- A CANCELLED end with no start: a held job that expired before it started, its attempts unchanged.
  local unstarted = started_at == '' and status == 'CANCELLED' and job[1] == 'READY'
  local claimed = unstarted and tostring(tonumber(attempt) + 1) or attempt
  if not holds(job, owner, claimed, started_at == '' and not unstarted) then
    refused[#refused + 1] = id
  else
    -- One HSET for every field written: a batch of outcomes runs this once per job.
    local fields = {'status', status, 'attempts', attempt}
    if started_at ~= '' then
      redis.call('HSETNX', k, 'started_at', started_at)
      fields[#fields + 1] = 'last_attempted_at'
      fields[#fields + 1] = started_at
      fields[#fields + 1] = 'worker_ids'
      fields[#fields + 1] = json_append(job[5], cjson.encode(owner))
    end
    if status == 'RUNNING' then
      redis.call('ZADD', base .. ':running', started_at, id)
      redis.call('HSET', k, unpack(fields))
    else
      drop_claim(base, id, owner ~= '' and owner or nil)
      if job[8] then  -- its limit slot is free: jobs parked behind its key may be claimed at once
        redis.call('ZADD', base .. ':parked', 'XX', 0, job[8])
      end
      if lost == '1' then
        redis.call('HINCRBY', k, 'orphaned', 1)
      end
      if error ~= '' then
        fields[#fields + 1] = 'errors'
        fields[#fields + 1] = json_append(job[6], error)
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
        redis.call('HDEL', k, 'progress')  -- a retry starts afresh
        redis.call('HSET', k, unpack(fields))
        redis.call('ZADD', base .. ':delayed', redis.call('HGET', k, 'available_at'), id)
      else
        fields[#fields + 1] = 'finished_at'
        fields[#fields + 1] = finished_at
        redis.call('HSET', k, unpack(fields))
        finished(base, id, job[4], status, finished_at, ttl_ms)
        if job[7] and link_error ~= '' then
          settle(prefix, channel, ttl_ms, id, status, job[7], return_value, finished_at, link_error)
        end
      end
    end
  end
end
return refused
