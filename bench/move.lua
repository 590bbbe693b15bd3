-- wrk script for the stage-change path: each thread owns a disjoint set of leads and drags them through
-- BENCH_STAGES in turn, carrying each lead's current version (one connection per thread keeps it exact).
-- BENCH_MOVES: "lead id:version:stage" lines; BENCH_PATHS: the column URLs, one per stage, in BENCH_STAGES order.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")  -- lines, setup, response, done

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
