-- Writes a run's run.completed event once per round (the first import, then each `retry`).
-- KEYS: run hash (meta), outbox.
-- ARGV: round, now ms, data json.
-- The data is kept beside the mark (completed-data:<round>) so `notify resend` can send it again.
-- Returns 1 when written, 0 when this round's event already was.
if redis.call('HSETNX', KEYS[1], 'completed:' .. ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'completed-data:' .. ARGV[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'type', 'run.completed', 'field', '', 'n', ARGV[1], 'at', ARGV[2], 'data', ARGV[3])
return 1
