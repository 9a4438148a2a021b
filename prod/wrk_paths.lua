-- wrk script of bench/http_load.py and prod/smoke.py: every request is the next path of a
-- file, so that each request asks something else (no whole cached page can stand in for speed).
--
-- Environment: HTTP_LOAD_PATHS (a file, one path a line), HTTP_LOAD_HOST (the Host header; unset: the URL's),
-- HTTP_LOAD_COOKIE (the signed-in session, or empty), HTTP_LOAD_OFFSET (the first path's
-- index: the warm-up starts elsewhere than the measured run). Thread k of n asks paths
-- offset+k, offset+k+n, ... in turn. done() prints one line "HTTP_LOAD_JSON {...}" with the
-- latency percentiles and the answers by status.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
  -- Each thread's own copy of this script starts with counter = 0: tell every thread set up so
  -- far how many there are (the last call tells them all), so that they step over each other.
  for _, each in ipairs(threads) do
    each:set("threads_count", counter)
  end
end

function init(args)
  paths = {}
  for line in io.lines(os.getenv("HTTP_LOAD_PATHS")) do
    if line ~= "" then
      table.insert(paths, line)
    end
  end
  step = threads_count
  index = tonumber(os.getenv("HTTP_LOAD_OFFSET") or "0") + id
  headers = { ["Host"] = os.getenv("HTTP_LOAD_HOST") }
  local cookie = os.getenv("HTTP_LOAD_COOKIE") or ""
  if cookie ~= "" then
    headers["Cookie"] = cookie
  end
  statuses = {}
end

function request()
  local path = paths[(index % #paths) + 1]
  index = index + step
  return wrk.format("GET", path, headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local answers = {}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses")
    for status, n in pairs(seen) do
      answers[tostring(status)] = (answers[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(answers) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local errors = summary.errors
  io.write(string.format(
    'HTTP_LOAD_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "socket_errors": %d, "timeouts": %d, '
      .. '"statuses": {%s}}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean,
    errors.connect + errors.read + errors.write + errors.timeout, errors.timeout,
    table.concat(parts, ", ")
  ))
end
