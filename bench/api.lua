-- wrk script for bench/api.py: the public API, called with an API key or an access token (no cookie, no CSRF).
-- BENCH_METHOD; BENCH_PATHS: lines, taken in turn; BENCH_HEADERS: "Name: value" lines (the credentials);
-- BENCH_BODY (optional): a JSON body with {n} (a counter unique per request of this run) and {phone} (a distinct
-- valid number) in it; each request with a body carries its own Idempotency-Key, BENCH_RUN-<thread>-<n>.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")  -- lines, setup, response, done

function init(args)
  method = os.getenv("BENCH_METHOD") or "GET"
  paths = lines(os.getenv("BENCH_PATHS"))
  template = os.getenv("BENCH_BODY") or ""
  run = os.getenv("BENCH_RUN") or "apibench"
  headers = {Accept = "application/json"}
  for _, line in ipairs(lines(os.getenv("BENCH_HEADERS"))) do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
  if template ~= "" then headers["Content-Type"] = "application/json" end
  k = 0
  statuses = {}
end

function request()
  k = k + 1
  local path = paths[(k % #paths) + 1]
  if template == "" then return wrk.format(method, path, headers, nil) end
  local n = tid * 1000000 + k
  local phone = string.format("+1 415 %d %04d", 300 + math.floor(n / 10000) % 600, n % 10000)
  local body = string.gsub(template, "{n}", function() return tostring(n) end)
  body = string.gsub(body, "{phone}", function() return phone end)
  headers["Idempotency-Key"] = string.format("%s-%d-%d", run, tid, k)
  return wrk.format(method, path, headers, body)
end
