-- wrk script for bench/run.py: method, headers and a rotating list of paths/bodies come from the environment.
-- BENCH_METHOD, BENCH_HEADERS ("Name: value" lines), BENCH_PATHS (lines), BENCH_BODIES (lines, optional).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")  -- lines, response, done
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
  table.insert(bench_threads, thread)
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
