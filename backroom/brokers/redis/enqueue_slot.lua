-- Store a job for one slot of a schedule unless that slot is already recorded.
-- Returns the id of the job serving the slot (this one, or the active holder
-- of its unique key), or false when another scheduler recorded the slot first.
-- ARGV: prefix, schedule name, slot (us), enqueued_at (us), id, queue,
--       unique key or '', '1' if delayed, then field/value pairs.
local name, slot, enqueued_at, id = ARGV[2], ARGV[3], ARGV[4], ARGV[5]

if redis.call('ZADD', key('schedule', name, 'slots'), 'NX', slot, slot) == 0 then
  return false
end
redis.call('SADD', key('schedules'), name)
local serving = id
local existing = store_job(id, ARGV[6], ARGV[7], ARGV[8], 9)
if existing then
  for i = 1, #existing, 2 do
    if existing[i] == 'id' then
      serving = existing[i + 1]
    end
  end
end
redis.call('HSET', key('schedule', name, 'runs'), slot, serving .. ' ' .. enqueued_at)
return serving
