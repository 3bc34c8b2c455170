-- Extends owner ARGV[1]'s lease on KEYS[1] to ARGV[2] milliseconds from now.
-- Returns 1, or 0 (changing nothing) when ARGV[1] does not hold the lease.
local rec = redis.call('HMGET', KEYS[1], 'state', 'owner')
if rec[1] ~= 'lease' or rec[2] ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
