-- Forget a worker that stopped cleanly.
-- ARGV: prefix, worker id.
local worker = ARGV[2]
redis.call('HDEL', key('workers'), worker)
redis.call('ZREM', key('heartbeats'), worker)
redis.call('DEL', key('worker', worker, 'claims'))
return true
