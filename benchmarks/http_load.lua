-- wrk script of the benchmark's http stage (benchmarks/run.py).
--
-- wrk -s benchmarks/http_load.lua URL -- BODIES TOKEN
--
-- Each connection POSTs the JSON bodies of the file BODIES (one a line) in
-- turn, with "Authorization: Bearer TOKEN". When the run ends, one JSON
-- line on stdout gives the requests made, the run's length, the latency
-- percentiles (microseconds) and how many answers were not a 200 (wrk's
-- own count of errors leaves out 1xx and 3xx answers).

local requests = {}
local next_request = 0
-- A global, so that done() can read each thread's count with thread:get.
not_ok = 0

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path, token = args[1], args[2]
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  for body in io.lines(path) do
    table.insert(requests, wrk.format("POST", nil, headers, body))
  end
  if #requests == 0 then
    error("no request bodies in " .. path)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local answered_badly = 0
  for _, thread in ipairs(threads) do
    answered_badly = answered_badly + thread:get("not_ok")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"not_ok": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), answered_badly,
    errors.connect + errors.read + errors.write + errors.timeout
  ))
end
