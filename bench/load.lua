-- wrk script for bench/run.py: method, headers and a rotating list of paths/bodies come from the environment.
-- BENCH_METHOD, BENCH_HEADERS ("Name: value" lines), BENCH_PATHS (lines), BENCH_BODIES (lines, optional).
local function lines(text)
  local out = {}
  for line in string.gmatch(text or "", "[^\n]+") do table.insert(out, line) end
  return out
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
  table.insert(threads, thread)
end

function init(args)
  method = os.getenv("BENCH_METHOD") or "GET"
  paths = lines(os.getenv("BENCH_PATHS"))
  bodies = lines(os.getenv("BENCH_BODIES"))
  headers = {}
  for _, line in ipairs(lines(os.getenv("BENCH_HEADERS"))) do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  if #bodies > 0 then headers["Content-Type"] = "application/x-www-form-urlencoded" end
  i = offset or 0
  statuses = {}
end

function request()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  local body = nil
  if #bodies > 0 then body = bodies[(i % #bodies) + 1] end
  return wrk.format(method, path, headers, body)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for code, n in pairs(seen) do codes[code] = (codes[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(codes) do table.insert(parts, string.format('"%d": %d', code, n)) end
  io.write(string.format(
    'BENCH_RESULT {"p50_us": %d, "p95_us": %d, "p99_us": %d, "requests": %d, "duration_us": %d, ' ..
    '"socket_errors": %d, "statuses": {%s}}\n',
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.requests,
    summary.duration, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
