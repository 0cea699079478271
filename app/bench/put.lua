-- wrk script: PUT /kv/bench-N with a 100-byte value over 1000 keys (as redis-benchmark -d 100 -r 1000).
wrk.method = "PUT"
wrk.body = string.rep("x", 100)
wrk.headers["Content-Type"] = "application/octet-stream"
-- The API's bearer token, from the environment (never on wrk's command line).
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("API_TOKEN"), "API_TOKEN is not set")
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/kv/bench-" .. (counter % 1000))
end
