-- Record finished attempts of one worker's jobs; outcomes whose claim no
-- longer holds (the job was reaped) change nothing.
-- ARGV: prefix, worker id, result TTL in ms or '', then per outcome: job id,
-- attempt, status, finished_at, available_at or '', return value or '', error or ''.
local owner, ttl_ms = ARGV[2], ARGV[3]
for i = 4, #ARGV, 7 do
  finish(ARGV[i], owner, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5],
    ARGV[i + 6], ttl_ms)
end
return true
