-- Resume a paused queue and wake its idle workers, as an enqueue does.
-- Returns 1, or 0 if it was not paused.
-- KEYS: the queue's ready set. ARGV: base, channel, queue.
local base, channel, queue = ARGV[1], ARGV[2], ARGV[3]
if redis.call('DEL', base .. ':paused') == 0 then
  return 0
end
redis.call('PUBLISH', channel, queue)
return 1
