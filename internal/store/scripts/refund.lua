-- Gives back units to GCRA zones, on the server's clock: ARGV holds two
-- integers per zone, the increment to take off its theoretical arrival time
-- (TAT; units * T, in microseconds) and the held units to let go of; KEYS
-- hold, zone by zone, the zone's TAT in microseconds and, only for a zone
-- that lets go of units, its count of held units. A TAT is never moved below
-- now: a zone holds at most its capacity. memory.go's Refund computes the
-- same.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local k = 1
for i = 1, #ARGV / 2 do
  local tatKey = KEYS[k]
  k = k + 1
  local release = tonumber(ARGV[2 * i])
  if release > 0 then
    local held = tonumber(redis.call('GET', KEYS[k]) or 0) - release
    if held > 0 then
      redis.call('SET', KEYS[k], held, 'KEEPTTL')
    else
      redis.call('DEL', KEYS[k])
    end
    k = k + 1
  end
  local tat = tonumber(redis.call('GET', tatKey) or now) - tonumber(ARGV[2 * i - 1])
  if tat > now then
    redis.call('SET', tatKey, string.format('%.0f', tat),
      'PX', string.format('%.0f', math.ceil((tat - now) / 1000)))
  else
    redis.call('DEL', tatKey)
  end
end
return 0
