-- Delete up to `limit` slot records of one queue's schedules older than a
-- moment, keeping each schedule's latest (its last run); return how many.
-- KEYS: the queue's ready set. ARGV: base, before (us), limit.
local base, before, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local deleted = 0
for _, name in ipairs(redis.call('SMEMBERS', base .. ':schedules')) do
  local slots, runs = base .. ':schedule:' .. name .. ':slots', base .. ':schedule:' .. name .. ':runs'
  local latest = redis.call('ZRANGE', slots, -1, -1)[1]
  if latest then
    local cutoff = math.min(before, tonumber(latest))
    local old = redis.call('ZRANGEBYSCORE', slots, '-inf', '(' .. int(cutoff), 'LIMIT', 0, limit - deleted)
    for _, slot in ipairs(old) do
      redis.call('ZREM', slots, slot)
      redis.call('HDEL', runs, slot)
    end
    deleted = deleted + #old
    if deleted >= limit then
      break
    end
  end
end
return deleted
