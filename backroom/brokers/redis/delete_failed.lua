-- Delete the given jobs of one queue that are FAILED and of one task; return how many.
-- KEYS: the queue's ready set. ARGV: base, task path, then job ids.
local base, task_path = ARGV[1], ARGV[2]
local deleted = 0
for i = 3, #ARGV do
  local id = ARGV[i]
  local job = redis.call('HMGET', job_key(base, id), 'status', 'task_path')
  if job[1] == 'FAILED' and job[2] == task_path then
    redis.call('DEL', job_key(base, id))
    redis.call('ZREM', base .. ':failed', id)
    redis.call('ZREM', base .. ':all', id)
    deleted = deleted + 1
  end
end
return deleted
