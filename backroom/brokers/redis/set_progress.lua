-- Store a running job's progress, if the attempt reporting it is still the
-- job's (also while its start is on its way: the task may report first).
-- KEYS: the queue's ready set. ARGV: base, job id, attempt, progress (JSON).
local k = job_key(ARGV[1], ARGV[2])
local job = redis.call('HMGET', k, 'status', 'attempts', 'worker_id')
if (job[1] == 'RUNNING' and job[2] == ARGV[3])
    or (job[1] == 'READY' and job[3] and whole(job[2], 0) == tonumber(ARGV[3]) - 1) then
  redis.call('HSET', k, 'progress', ARGV[4])
end
return true
