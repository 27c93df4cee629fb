-- Take back running jobs whose lease expired (retry them, or fail them when
-- their attempts are used up) and forget workers silent for too long.
-- ARGV: prefix, now, now as ISO 8601, stale-worker cut-off, batch size,
-- result TTL in ms or '', error class path, traceback format (owner, attempt, max).
local now, now_iso, stale_before, batch, ttl_ms = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local error_path, traceback = ARGV[7], ARGV[8]

local reaped = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', key('leases'), '-inf', '(' .. now, 'LIMIT', 0, batch)) do
  local job = redis.call('HMGET', job_key(id), 'task_path', 'worker_id', 'attempts', 'max_attempts',
    'status')
  if job[5] ~= 'RUNNING' or not job[2] then
    redis.call('ZREM', key('leases'), id) -- a lease left without its job
  else
    local owner, attempt = job[2], job[3]
    local status = tonumber(attempt) >= tonumber(job[4]) and 'FAILED' or 'READY'
    local error = cjson.encode({
      exception_class_path = error_path,
      traceback = string.format(traceback, owner, attempt, job[4]),
      attempt = tonumber(attempt),
      worker_id = owner,
      at = now_iso,
    })
    finish(id, owner, attempt, status, now, now, '', error, ttl_ms)
    reaped[#reaped + 1] = {id, job[1], owner, status}
  end
end

for _, worker in ipairs(redis.call('ZRANGEBYSCORE', key('heartbeats'), '-inf', '(' .. stale_before)) do
  redis.call('HDEL', key('workers'), worker)
  redis.call('ZREM', key('heartbeats'), worker)
  redis.call('DEL', key('worker', worker, 'claims'))
end
return reaped
