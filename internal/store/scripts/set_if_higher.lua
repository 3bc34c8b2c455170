-- Stores value ARGV[2] with rank ARGV[1] (a decimal int64) under KEYS[1],
-- for ARGV[3] milliseconds (0: no expiry), when the key is absent or holds a
-- ranked record of a lower rank. A ranked record is a list {rank, value}, so
-- that GET, HMGET and the other scripts refuse it as the wrong kind, as this
-- script refuses any other kind. Returns 1 when stored, 0 when not.

-- less compares two canonical decimal integers exactly: Lua numbers are
-- doubles, which would round ranks beyond 2^53.
local function less(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then
    return na
  end
  if #a ~= #b then
    return (#a < #b) ~= na
  end
  if a == b then
    return false
  end
  return (a < b) ~= na
end

local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'list' then
  if not less(redis.call('LINDEX', KEYS[1], 0), ARGV[1]) then
    return 0
  end
elseif kind ~= 'none' then
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
redis.call('DEL', KEYS[1])
redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
