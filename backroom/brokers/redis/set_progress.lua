-- Store a running job's progress, if the attempt reporting it is still the job's.
-- ARGV: prefix, job id, attempt, progress (JSON).
local k = job_key(ARGV[2])
local job = redis.call('HMGET', k, 'status', 'attempts')
if job[1] == 'RUNNING' and job[2] == ARGV[3] then
  redis.call('HSET', k, 'progress', ARGV[4])
end
return true
