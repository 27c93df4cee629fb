-- Store every job of a workflow at once: those with parents waiting, in no queue, the others
-- queued (or delayed) as enqueue would. On a Redis Cluster all are in one queue (one slot).
-- KEYS: each queue's ready set. ARGV: channel, then per job: base, queue, id, '1' if delayed
-- or 'w' if waiting, number of field/value pairs, those pairs.
local channel = ARGV[1]
local i = 2
while i <= #ARGV do
  local base, queue, id, delayed, pairs = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local last = i + 4 + 2 * pairs
  store_job(base, channel, queue, id, '', delayed, i + 5, last)
  i = last + 1
end
return false
