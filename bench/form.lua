-- wrk script for bench/intake.py: POST the public request form, each request with its own email and phone.
-- BENCH_PATH: the form's URL; BENCH_BODY: the urlencoded body with {n} (a counter unique per request of this
-- run) and {phone} (a distinct valid number, urlencoded) in it; BENCH_HEADERS: "Name: value" lines.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")  -- lines, setup, response, done

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
