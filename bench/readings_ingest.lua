-- wrk script for bench/readings_ingest.py: POST /api/v1/readings with one whole day of 5-minute
-- CGM values (288 items) per request. Request r of all threads goes to wearer r % W, day
-- r // W + 1 back from today, so every request carries new keys.
-- Arguments after `--`: wearers file ("token device_id ..." per line), thread count, today's
-- midnight (UTC epoch seconds), days available.

local threadnum = 0

function setup(thread)
  thread:set("id", threadnum)
  threadnum = threadnum + 1
end

local wearers, templates = {}, {}
local counter, nthreads, days = 0, 1, 1

function init(args)
  for line in io.lines(args[1]) do
    local token, device = line:match("(%S+) (%S+)")
    wearers[#wearers + 1] = { token, device }
  end
  nthreads, days = tonumber(args[2]), tonumber(args[4])
  local today = tonumber(args[3])
  -- One body template per day (the device id filled in per request): building JSON per
  -- request would make the load generator, not the service, the cost being measured.
  for day = 1, days do
    local start, items = today - day * 86400, {}
    for i = 0, 287 do
      items[#items + 1] = string.format(
        '{"kind":"cgm","device_id":"@DEVICE@","measured_at":"%s","utc_offset_minutes":480,' ..
        '"value":%.1f,"unit":"mg/dL"}',
        os.date("!%Y-%m-%dT%H:%M:%SZ", start + 300 * i), 60 + ((day * 7 + i * 13) % 240))
    end
    templates[day] = '{"items":[' .. table.concat(items, ",") .. "]}"
  end
end

function request()
  local r = counter * nthreads + id
  counter = counter + 1
  local wearer = wearers[(r % #wearers) + 1]
  local day = math.floor(r / #wearers) % days + 1
  local body = templates[day]:gsub("@DEVICE@", wearer[2])
  return wrk.format("POST", "/api/v1/readings",
    { ["Authorization"] = "Bearer " .. wearer[1], ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d " ..
    "p50_us=%d p99_us=%d\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
