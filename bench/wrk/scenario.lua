-- One benchmark scenario for wrk: the same kind of request, again and again.
--
--   wrk ... -s bench/wrk/scenario.lua http://127.0.0.1:PORT -- METHOD PATHS TOKEN THREADS [BODY]
--
-- PATHS is one path, or @FILE naming a file of paths (one per line) that the threads
-- share out between them and walk through in turn (e.g. the sessions a stop scenario
-- stops, each once). TOKEN is sent as "Authorization: Bearer TOKEN" unless it is "-".
-- done() prints one line, "BENCH_JSON {...}", that bench/run.py reads.

local thread_count = 0
function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local method, body, headers
local paths = {}
local next_path = 0

function init(args)
  method = args[1]
  local source, token, threads = args[2], args[3], tonumber(args[4])
  body = args[5]
  headers = { ["Content-Type"] = "application/json" }
  if token ~= "-" then
    headers["Authorization"] = "Bearer " .. token
  end
  if source:sub(1, 1) == "@" then
    local n = 0
    for line in io.lines(source:sub(2)) do
      if n % threads == thread_index then
        paths[#paths + 1] = line
      end
      n = n + 1
    end
  else
    paths[1] = source
  end
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format(method, paths[next_path], headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non_2xx_3xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
