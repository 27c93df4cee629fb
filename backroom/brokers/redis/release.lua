-- Hand held jobs back as READY: an unstarted one as it was, a started one
-- without the attempt it was charged. '1' for lost: its worker died holding
-- it, so it runs alone next. Publishes the queue when a job became ready.
-- KEYS: the queue's ready set. ARGV: base, channel, queue, owner, '1' if lost,
-- then per claim: job id, attempt, '1' if started.
local base, channel, queue, owner, lost = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local released = false
for i = 6, #ARGV, 3 do
  local id, attempt, started = ARGV[i], ARGV[i + 1], ARGV[i + 2] == '1'
  local k = job_key(base, id)
  local job = redis.call('HMGET', k, 'status', 'worker_id', 'attempts', 'worker_ids')
  if holds(job, owner, attempt, started) then
    drop_claim(base, id, owner ~= '' and owner or nil)
    if started then
      local worker_ids = cjson.decode(job[4] or '[]')
      table.remove(worker_ids)
      redis.call('HSET', k, 'status', 'READY', 'worker_ids', #worker_ids == 0 and '[]' or cjson.encode(worker_ids))
      redis.call('HINCRBY', k, 'attempts', -1)
      if attempt == '1' then
        redis.call('HDEL', k, 'started_at')
      end
    end
    if lost == '1' then
      redis.call('HINCRBY', k, 'orphaned', 1)
    end
    make_ready(base, id)
    released = true
  end
end
if released then
  redis.call('PUBLISH', channel, queue)
end
return true
