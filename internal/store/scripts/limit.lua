-- One all-or-nothing GCRA decision over several zones, on the server's clock.
-- ARGV[1] is how long a zone's count of held units outlives the change that
-- last raised it, in milliseconds; then seven integers per zone: the emission
-- interval T, the capacity C, the increment Cost*T and the refund Refund*T,
-- in microseconds (the refund is taken off the TAT, never below now, before
-- the decision and kept whatever it is), the units held when admitted, the
-- held units let go of (before the decision, kept whatever it is) and 1 when
-- the zone's count of held units is read (always when it holds or lets go
-- of units), else 0. KEYS hold, zone by zone, the zone's theoretical arrival
-- time (TAT) in microseconds since the Unix epoch and, only for a zone whose
-- count is read, its count of held units.
-- Returns five integers per zone: allowed (1 or 0), remaining units,
-- retry-after (counting only units not held) and reset-after in
-- microseconds, and the units held. gcra.go computes the same.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local n = (#ARGV - 1) / 7
local tatKeys, heldKeys, tats, helds, stored = {}, {}, {}, {}, {}
local all = true
local k = 1
for i = 1, n do
  local a = 1 + 7 * (i - 1)
  tatKeys[i] = KEYS[k]
  k = k + 1
  local tat = tonumber(redis.call('GET', tatKeys[i]) or now) - tonumber(ARGV[a + 4])
  if tat < now then
    tat = now
  end
  tats[i] = tat
  stored[i], helds[i] = 0, 0
  if ARGV[a + 7] == '1' then
    heldKeys[i] = KEYS[k]
    k = k + 1
    stored[i] = tonumber(redis.call('GET', heldKeys[i]) or 0)
    helds[i] = stored[i] - tonumber(ARGV[a + 6])
    if helds[i] < 0 then
      helds[i] = 0
    end
  end
  if tat + tonumber(ARGV[a + 3]) - now > tonumber(ARGV[a + 2]) then
    all = false
  end
end

local out = {}
for i = 1, n do
  local a = 1 + 7 * (i - 1)
  local interval = tonumber(ARGV[a + 1])
  local capacity = tonumber(ARGV[a + 2])
  local increment = tonumber(ARGV[a + 3])
  local refund = tonumber(ARGV[a + 4])
  local allowed, retry, used = 1, 0, tats[i] - now
  if all then
    used = used + increment
  elseif used + increment > capacity then
    local spent = used - helds[i] * interval
    if spent < 0 then
      spent = 0
    end
    allowed, retry = 0, spent + increment - capacity
    if retry < 0 then
      retry = 0
    end
  end
  if all or refund > 0 then
    if used > 0 then
      redis.call('SET', tatKeys[i], string.format('%.0f', now + used),
        'PX', string.format('%.0f', math.ceil(used / 1000)))
    else
      redis.call('DEL', tatKeys[i])
    end
  end
  if heldKeys[i] then
    local held = helds[i]
    if all then
      held = held + tonumber(ARGV[a + 5])
    end
    if held <= 0 then
      redis.call('DEL', heldKeys[i])
    elseif held > stored[i] then
      redis.call('SET', heldKeys[i], held, 'PX', ARGV[1])
    elseif held < stored[i] then
      redis.call('SET', heldKeys[i], held, 'KEEPTTL')
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
  out[#out + 1] = helds[i]
end
return out
