-- Store many new jobs of one task (none with a unique key); publish their queue once.
-- ARGV: prefix, queue, '1' if delayed, number of shared field/value pairs, those pairs
-- (priority and available_at among them), then the id, args and kwargs of each job.
local queue, delayed = ARGV[2], ARGV[3]
local first_job = 5 + 2 * tonumber(ARGV[4])
local fields = {}
local priority, available_at
for i = 5, first_job - 1, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  if ARGV[i] == 'priority' then
    priority = ARGV[i + 1]
  elseif ARGV[i] == 'available_at' then
    available_at = ARGV[i + 1]
  end
end
local n = #fields
-- As make_ready orders a ready job, without reading back what is known here.
local ready, score = key('queue', queue, 'ready'), 100 - tonumber(priority)
local position = string.rep('0', 16 - #available_at) .. available_at .. ':'
for j = first_job, #ARGV, 3 do
  local id = ARGV[j]
  fields[n + 1], fields[n + 2] = 'id', id
  fields[n + 3], fields[n + 4] = 'args', ARGV[j + 1]
  fields[n + 5], fields[n + 6] = 'kwargs', ARGV[j + 2]
  redis.call('HSET', job_key(id), unpack(fields))
  if delayed == '1' then
    redis.call('ZADD', key('queue', queue, 'delayed'), available_at, id)
  else
    redis.call('ZADD', ready, score, position .. id)
  end
end
redis.call('SADD', key('queues'), queue)
if delayed ~= '1' then
  redis.call('PUBLISH', key('enqueued'), queue)
end
return false
