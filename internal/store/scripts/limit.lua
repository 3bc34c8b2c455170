-- One all-or-nothing GCRA decision over several zones, on the server's clock.
-- KEYS[i] holds zone i's theoretical arrival time (TAT) in microseconds since
-- the Unix epoch. ARGV holds four integers per zone, in microseconds: the
-- emission interval T, the capacity C, the increment Cost*T and the refund
-- Refund*T, taken off the TAT (never below now) before the decision and kept
-- whatever it is.
-- Returns four integers per zone: allowed (1 or 0), remaining units,
-- retry-after and reset-after in microseconds. gcra.go computes the same.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local tats = {}
local all = true
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) - tonumber(ARGV[4 * i])
  if tat < now then
    tat = now
  end
  tats[i] = tat
  if tat + tonumber(ARGV[4 * i - 1]) - now > tonumber(ARGV[4 * i - 2]) then
    all = false
  end
end

local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 3])
  local capacity = tonumber(ARGV[4 * i - 2])
  local increment = tonumber(ARGV[4 * i - 1])
  local refund = tonumber(ARGV[4 * i])
  local allowed, retry, used = 1, 0, tats[i] - now
  if all then
    used = used + increment
  elseif used + increment > capacity then
    allowed, retry = 0, used + increment - capacity
  end
  if all or refund > 0 then
    if used > 0 then
      redis.call('SET', KEYS[i], string.format('%.0f', now + used),
        'PX', string.format('%.0f', math.ceil(used / 1000)))
    else
      redis.call('DEL', KEYS[i])
    end
  end
  local remaining = math.floor((capacity - used) / interval)
  if remaining < 0 then
    remaining = 0
  end
  out[#out + 1] = allowed
  out[#out + 1] = remaining
  out[#out + 1] = retry
  out[#out + 1] = used
end
return out
