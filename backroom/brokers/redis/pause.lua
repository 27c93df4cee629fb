-- Pause a queue: claims leave its jobs where they are until resume.lua runs.
-- Returns 1, or 0 if it was already paused.
-- KEYS: the queue's ready set. ARGV: base, paused at (us), by whom.
local base, at, by = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', base .. ':paused') == 1 then
  return 0
end
redis.call('HSET', base .. ':paused', 'at', at, 'by', by)
return 1
