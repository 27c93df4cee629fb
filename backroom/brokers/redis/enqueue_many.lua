-- Store many new jobs of one task (none with a unique key); publish their queue once.
-- KEYS: the queue's ready set. ARGV: base, channel, queue, '1' if delayed, number of
-- shared field/value pairs, those pairs (priority, available_at and enqueued_at among
-- them), then the id, args and kwargs of each job.
local base, channel, queue, delayed = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local first_job = 6 + 2 * tonumber(ARGV[5])
local fields = {}
local shared = {}
for i = 6, first_job - 1, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  shared[ARGV[i]] = ARGV[i + 1]
end
local n = #fields
-- As make_ready orders a ready job, without reading back what is known here.
local ready, score = base .. ':ready', 100 - tonumber(shared['priority'])
for j = first_job, #ARGV, 3 do
  local id = ARGV[j]
  fields[n + 1], fields[n + 2] = 'id', id
  fields[n + 3], fields[n + 4] = 'args', ARGV[j + 1]
  fields[n + 5], fields[n + 6] = 'kwargs', ARGV[j + 2]
  redis.call('HSET', job_key(base, id), unpack(fields))
  redis.call('ZADD', base .. ':all', shared['enqueued_at'], id)
  if delayed == '1' then
    redis.call('ZADD', base .. ':delayed', shared['available_at'], id)
  else
    redis.call('ZADD', ready, score, ready_member(id, shared['available_at']))
  end
end
if delayed ~= '1' then
  redis.call('PUBLISH', channel, queue)
end
return false
