-- wrk script for bench/intake.py: POST the public request form, each request with its own email and phone.
-- BENCH_PATH: the form's URL; BENCH_BODY: the urlencoded body with {n} (a counter unique per request of this
-- run) and {phone} (a distinct valid number, urlencoded) in it; BENCH_HEADERS: "Name: value" lines.
local function lines(text)
  local out = {}
  for line in string.gmatch(text or "", "[^\n]+") do table.insert(out, line) end
  return out
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  path = os.getenv("BENCH_PATH")
  template = os.getenv("BENCH_BODY")
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for _, line in ipairs(lines(os.getenv("BENCH_HEADERS"))) do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  k = 0
  statuses = {}
end

function request()
  k = k + 1
  local n = tid * 1000000 + k
  local phone = string.format("%%2B1+415+%d+%04d", 300 + math.floor(n / 10000) % 600, n % 10000)
  local body = string.gsub(template, "{n}", function() return tostring(n) end)
  body = string.gsub(body, "{phone}", function() return phone end)
  return wrk.format("POST", path, headers, body)
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
