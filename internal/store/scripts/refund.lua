-- Gives back units to GCRA zones, on the server's clock: KEYS[i] holds zone
-- i's theoretical arrival time (TAT) in microseconds, ARGV[i] the increment
-- to take off it (units * T, in microseconds). A TAT is never moved below
-- now: a zone holds at most its capacity. gcra.go's Refund computes the
-- same.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i = 1, #KEYS do
  local tat = tonumber(redis.call('GET', KEYS[i]) or now) - tonumber(ARGV[i])
  if tat > now then
    redis.call('SET', KEYS[i], string.format('%.0f', tat),
      'PX', string.format('%.0f', math.ceil((tat - now) / 1000)))
  else
    redis.call('DEL', KEYS[i])
  end
end
return 0
