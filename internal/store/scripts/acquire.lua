-- Takes the lease on KEYS[1] for owner ARGV[1], storing value ARGV[2] with it
-- for ARGV[3] milliseconds, unless the key holds a lease or a completed
-- record. Returns {1} when acquired, {2, value} when a lease is held and
-- {3, value} when a completed record exists.
local rec = redis.call('HMGET', KEYS[1], 'state', 'value')
if rec[1] == 'done' then
  return {3, rec[2]}
elseif rec[1] then
  return {2, rec[2]}
end
redis.call('HSET', KEYS[1], 'state', 'lease', 'owner', ARGV[1], 'value', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1}
