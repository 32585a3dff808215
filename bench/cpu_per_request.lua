-- wrk script for bench/cpu_per_request.py: a phone's small upload (1-3 CGM readings a minute
-- apart, or one BP reading) per request, or a GET, at a moderate rate (each connection waits
-- `delay` ms between requests). Request r of all threads goes to wearer r % W, slot r // W, so
-- every upload carries new keys, all inside the live window after `start`.
-- Arguments after `--`: wearers file ("token device_id patient_id" per line), thread count, mode
-- (cgm1 | cgm2 | cgm3 | bp1 | get), start (UTC epoch seconds), delay (ms), path.

local threadnum = 0

function setup(thread)
  thread:set("id", threadnum)
  threadnum = threadnum + 1
end

local wearers = {}
local counter, nthreads, start, pause, count = 0, 1, 0, 0, 1
local mode, path

function init(args)
  for line in io.lines(args[1]) do
    local token, device, patient = line:match("(%S+) (%S+) (%S+)")
    wearers[#wearers + 1] = { token, device, patient }
  end
  nthreads, mode, start, pause, path = tonumber(args[2]), args[3], tonumber(args[4]),
    tonumber(args[5]), args[6]
  count = tonumber(mode:sub(-1)) or 1
end

function delay()
  return pause
end

local function item(device, at, n)
  local when = os.date("!%Y-%m-%dT%H:%M:%SZ", at)
  if mode == "bp1" then
    return string.format('{"kind":"bp","device_id":"%s","measured_at":"%s",' ..
      '"utc_offset_minutes":480,"systolic":%d,"diastolic":%d,"pulse":%d}',
      device, when, 118 + n % 20, 76 + n % 10, 64 + n % 15)
  end
  return string.format('{"kind":"cgm","device_id":"%s","measured_at":"%s",' ..
    '"utc_offset_minutes":480,"value":%.1f,"unit":"mg/dL"}', device, when, 90 + (n * 7) % 80)
end

function request()
  local r = counter * nthreads + id
  counter = counter + 1
  local wearer = wearers[(r % #wearers) + 1]
  local headers = { ["Authorization"] = "Bearer " .. wearer[1] }
  if mode == "get" then
    return wrk.format("GET", (path:gsub("@PATIENT@", wearer[3])), headers)
  end
  local slot, items = math.floor(r / #wearers), {}
  for i = 0, count - 1 do
    -- CGM readings a minute apart (the bench's CGMs sample every 60 s); BP a minute apart.
    items[#items + 1] = item(wearer[2], start + 60 * (slot * count + i), r + i)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers, '{"items":[' .. table.concat(items, ",") .. "]}")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d status_errors=%d socket_errors=%d " ..
    "p50_us=%d p99_us=%d\n", summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
