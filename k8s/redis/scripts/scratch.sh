#!/usr/bin/env bash
# A scratch redis-server that loads one RDB file, on a Unix socket only (no TCP port), for
# checking and restoring backups. Sourced by backup.sh, never run.

SCRATCH_LOAD_TIMEOUT_SECONDS="${SCRATCH_LOAD_TIMEOUT_SECONDS:-600}"
SCRATCH_PID=""
SCRATCH_HOME=""
# Relative to SCRATCH_HOME: a Unix socket's path must be under 108 bytes (sun_path), and a
# working directory deep in a volume or a drill's report folder is longer than that. Redis
# creates it after changing into --dir; clients connect from there too.
SCRATCH_SOCKET="scratch.sock"

# scratch_start DIR: load DIR/dump.rdb and wait until the dataset is in memory. The server's
# output goes to DIR, never to the caller's: an orphan must not hold a reader's pipe open.
scratch_start() {
  local deadline reply
  SCRATCH_HOME=$(cd "$1" && pwd) || return 1
  redis-server --port 0 --unixsocket "$SCRATCH_SOCKET" --unixsocketperm 700 \
    --dir "$SCRATCH_HOME" --dbfilename dump.rdb --appendonly no --save "" --enable-debug-command local \
    --loglevel warning --logfile "$SCRATCH_HOME/scratch.log" </dev/null >"$SCRATCH_HOME/scratch.out" 2>&1 &
  SCRATCH_PID=$!
  deadline=$((SECONDS + SCRATCH_LOAD_TIMEOUT_SECONDS))
  while ((SECONDS < deadline)); do
    kill -0 "$SCRATCH_PID" 2>/dev/null || { log "scratch redis-server exited: $(cat "$SCRATCH_HOME/scratch.out" "$SCRATCH_HOME/scratch.log" 2>/dev/null | tail -n 3)"; return 1; }
    reply=$(scratch_cmd PING 2>/dev/null || true)
    [[ $reply == PONG ]] && return 0
    sleep 0.2
  done
  log "scratch redis-server did not finish loading within ${SCRATCH_LOAD_TIMEOUT_SECONDS}s"
  return 1
}

scratch_cmd() { (cd "$SCRATCH_HOME" && redis-cli -s "$SCRATCH_SOCKET" "$@"); }

scratch_stop() {
  [[ -n $SCRATCH_PID ]] || return 0
  scratch_cmd SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$SCRATCH_PID" 2>/dev/null || true
  wait "$SCRATCH_PID" 2>/dev/null || true
  SCRATCH_PID=""
}

# Up to N random keys of the loaded dataset, "TYPE HEX" a line (hex keeps any key byte-exact).
scratch_sample() {
  # shellcheck disable=SC2016 # Lua, not shell
  scratch_cmd EVAL '
    local out = {}
    for _ = 1, tonumber(ARGV[1]) do
      local key = redis.call("RANDOMKEY")
      if not key then break end
      local hex = string.gsub(key, ".", function(c) return string.format("%02x", string.byte(c)) end)
      table.insert(out, redis.call("TYPE", key)["ok"] .. " " .. hex)
    end
    return out' 0 "$1" | sort -u
}

# scratch_check_sample < "TYPE HEX" lines: prints every key whose type differs (or is gone).
scratch_check_sample() {
  local args=() type hex
  while read -r type hex; do args+=("$type" "$hex"); done
  ((${#args[@]} > 0)) || return 0
  # shellcheck disable=SC2016 # Lua, not shell
  scratch_cmd EVAL '
    local bad = {}
    for i = 1, #ARGV, 2 do
      local key = string.gsub(ARGV[i + 1], "..", function(h) return string.char(tonumber(h, 16)) end)
      local actual = redis.call("TYPE", key)["ok"]
      if actual ~= ARGV[i] then table.insert(bad, ARGV[i + 1] .. " expected " .. ARGV[i] .. ", found " .. actual) end
    end
    return bad' 0 "${args[@]}"
}
