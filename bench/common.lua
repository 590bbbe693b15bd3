-- What every wrk script of the benchmarks shares: reading "lines" settings, counting statuses per thread, and
-- the BENCH_RESULT line the Python side parses. Loaded by each script with dofile (see its first lines).
function lines(text)
  local out = {}
  for line in string.gmatch(text or "", "[^\n]+") do table.insert(out, line) end
  return out
end

bench_threads = {}
local thread_count = 0

-- Each thread gets its number ("tid"); a script that needs more defines its own setup after loading this file.
function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(bench_threads, thread)
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local codes = {}
  for _, thread in ipairs(bench_threads) do
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
