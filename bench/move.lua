-- wrk script for the stage-change path: each thread owns a disjoint set of leads and drags them through
-- BENCH_STAGES in turn, carrying each lead's current version (one connection per thread keeps it exact).
-- BENCH_MOVES: "lead id:version:stage" lines; BENCH_PATHS: the column URLs, one per stage, in BENCH_STAGES order.
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
  local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  stages = lines(os.getenv("BENCH_STAGES"))
  paths = lines(os.getenv("BENCH_PATHS"))
  headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
  for _, line in ipairs(lines(os.getenv("BENCH_HEADERS"))) do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  leads = {}
  for n, line in ipairs(lines(os.getenv("BENCH_MOVES"))) do
    if (n - 1) % nthreads == tid then
      local id, version, stage = string.match(line, "^([^:]+):(%d+):(%a+)$")
      table.insert(leads, {id = id, version = tonumber(version), stage = stage})
    end
  end
  k = 0
  statuses = {}
end

local function next_stage(stage)
  for n, s in ipairs(stages) do
    if s == stage then return (n % #stages) + 1 end
  end
  return 1
end

function request()
  k = (k % #leads) + 1
  current = leads[k]
  target = next_stage(current.stage)
  local body = "card=" .. current.id .. ":" .. current.version
  return wrk.format("POST", paths[target], headers, body)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    current.version = current.version + 1
    current.stage = stages[target]
  end
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
