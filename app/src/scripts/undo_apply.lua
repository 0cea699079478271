-- The difference an undo writes into the live master, in one script so no write can come
-- between the check and the change (app/src/archive/undo.cpp). Not WATCH: Redis checks each
-- WATCHed key against every one the client already watches (multi.c watchForKey), so watching
-- 100k keys stalls the master for a minute.
-- KEYS: the keys to change. ARGV, five per key: its database; what it must hold now (its DUMP
-- without the 10-byte RDB version and CRC trailer; empty: absent); "set" or "del"; the TTL in
-- ms to RESTORE with (0: none); the DUMP payload to RESTORE.
-- Every key is checked before any is written: returns {0, i} when key i was written since the
-- replay, else {1, keys set, keys deleted, microseconds the script ran: how long it held writes}.
local started = redis.call('TIME')
local selected = nil
local function use(db)
  if db ~= selected then
    redis.call('SELECT', db)
    selected = db
  end
end

for i = 1, #KEYS do
  local at = (i - 1) * 5
  use(ARGV[at + 1])
  local dump = redis.call('DUMP', KEYS[i])
  local now = dump and string.sub(dump, 1, -11) or ''
  if now ~= ARGV[at + 2] then return {0, i} end
end

local set, deleted = 0, 0
for i = 1, #KEYS do
  local at = (i - 1) * 5
  use(ARGV[at + 1])
  if ARGV[at + 3] == 'set' then
    redis.call('RESTORE', KEYS[i], ARGV[at + 4], ARGV[at + 5], 'REPLACE')
    set = set + 1
  else
    redis.call('DEL', KEYS[i])
    deleted = deleted + 1
  end
end
local ended = redis.call('TIME')
return {1, set, deleted, (ended[1] - started[1]) * 1000000 + (ended[2] - started[2])}
