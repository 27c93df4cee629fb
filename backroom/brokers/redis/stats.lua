-- One queue's counts: {ready (due, not held), held, due delayed, later
-- delayed, running, failed, oldest ready job's available_at or ''}.
-- KEYS: the queue's ready set. ARGV: base, now.
local base, now = ARGV[1], ARGV[2]
local ready = base .. ':ready'
local oldest = nil
local entry = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
-- Within a priority the first member is the oldest: look at the first of each priority.
while entry[1] do
  local at = tonumber(string.sub(entry[1], 1, 16))
  if at and (not oldest or at < oldest) then
    oldest = at
  end
  entry = redis.call('ZRANGEBYSCORE', ready, '(' .. entry[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
end
-- Jobs held ahead are READY too (their code has not started): the oldest may be one of them.
for _, id in ipairs(redis.call('ZRANGE', base .. ':held', 0, -1)) do
  local job = redis.call('HMGET', job_key(base, id), 'status', 'available_at')
  local at = whole(job[2], nil)
  if job[1] == 'READY' and at and (not oldest or at < oldest) then
    oldest = at
  end
end
local due = redis.call('ZRANGEBYSCORE', base .. ':delayed', '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if due[2] and (not oldest or tonumber(due[2]) < oldest) then
  oldest = tonumber(due[2])
end
-- Jobs parked behind a full limit key are ready too.
local parked = 0
for _, key in ipairs(redis.call('ZRANGE', base .. ':parked', 0, -1)) do
  parked = parked + redis.call('ZCARD', base .. ':parked:' .. key)
end
return {
  redis.call('ZCARD', ready) + parked,
  redis.call('ZCARD', base .. ':held'),
  redis.call('ZCOUNT', base .. ':delayed', '-inf', now),
  redis.call('ZCOUNT', base .. ':delayed', '(' .. now, '+inf'),
  redis.call('ZCARD', base .. ':running'),
  redis.call('ZCARD', base .. ':failed'),
  oldest and int(oldest) or '',
}
