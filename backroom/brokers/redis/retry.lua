-- Make a FAILED or CANCELLED job READY now, with at least one attempt left;
-- refused (0) while another active job of the queue holds its unique key.
-- KEYS: the queue's ready set. ARGV: base, channel, queue, job id, now.
local base, channel, queue, id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = job_key(base, id)
local job = redis.call('HMGET', k, 'status', 'unique_key', 'attempts', 'max_attempts')
if job[1] ~= 'FAILED' and job[1] ~= 'CANCELLED' then
  return 0
end
local unique_key = job[2]
if unique_key then
  local holder = redis.call('HGET', base .. ':unique', unique_key)
  if holder and holder ~= id then
    local status = redis.call('HGET', job_key(base, holder), 'status')
    if status == 'READY' or status == 'RUNNING' then
      return 0
    end
  end
  redis.call('HSET', base .. ':unique', unique_key, id)
end
local attempts = whole(job[3], 0)
redis.call('ZREM', base .. ':' .. string.lower(job[1]), id)
redis.call('PERSIST', k)
redis.call('HDEL', k, 'finished_at', 'return_value', 'progress', 'cancel_requested', 'worker_id')
redis.call('HSET', k, 'status', 'READY', 'available_at', now,
  'max_attempts', math.max(whole(job[4], 1), attempts + 1))
place(base, channel, queue, id, nil)
return 1
