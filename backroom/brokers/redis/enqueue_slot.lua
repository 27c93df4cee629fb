-- Store a job for one slot of a schedule unless that slot is already recorded.
-- Returns the id of the job serving the slot (this one, or the active holder
-- of its unique key), or false when another scheduler recorded the slot first.
-- KEYS: the queue's ready set. ARGV: base, channel, queue, schedule name,
-- slot (us), enqueued_at (us), id, unique key or '', '1' if delayed, then field/value pairs.
local base, channel, queue, name, slot, enqueued_at, id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]

if redis.call('ZADD', base .. ':schedule:' .. name .. ':slots', 'NX', slot, slot) == 0 then
  return false
end
redis.call('SADD', base .. ':schedules', name)
local serving = id
local existing = store_job(base, channel, queue, id, ARGV[8], ARGV[9], 10)
if existing then
  for i = 1, #existing, 2 do
    if existing[i] == 'id' then
      serving = existing[i + 1]
    end
  end
end
redis.call('HSET', base .. ':schedule:' .. name .. ':runs', slot, serving .. ' ' .. enqueued_at)
return serving
