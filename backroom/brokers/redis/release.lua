-- Hand claimed jobs back as READY without charging their attempt.
-- ARGV: prefix, worker id, then per claim: job id, attempt.
local owner = ARGV[2]
local released = {}
for i = 3, #ARGV, 2 do
  local id, attempt = ARGV[i], ARGV[i + 1]
  local job = claimed(id, owner, attempt)
  if job then
    local k, queue = job_key(id), job[4]
    drop_claim(id, owner, queue)
    local worker_ids = cjson.decode(job[6])
    table.remove(worker_ids)
    redis.call('HSET', k, 'status', 'READY',
      'worker_ids', #worker_ids == 0 and '[]' or cjson.encode(worker_ids))
    redis.call('HINCRBY', k, 'attempts', -1)
    if attempt == '1' then
      redis.call('HDEL', k, 'started_at')
    end
    make_ready(id, queue)
    released[queue] = true
  end
end
for queue in pairs(released) do
  redis.call('PUBLISH', key('enqueued'), queue)
end
return true
