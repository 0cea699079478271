-- An increment that counts once per Idempotency-Key (app/src/counter_increment.cpp).
-- KEYS[1] the counter, KEYS[2] the record of this key's increment; ARGV[1] the record's lifetime in ms.
-- Returns {replayed, value}: the value this key's increment counted, replayed = 1 when it counted
-- earlier. The script runs atomically and replicates as one transaction, so a replica that has
-- the increment has its record too and a retry after a failover finds it.
local counted = redis.call('GET', KEYS[2])
if counted then
  return {1, tonumber(counted)}
end
local value = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], value, 'PX', ARGV[1])
return {0, value}
