-- Records a use of a session by an access token: its last use moves forward, never back.
-- Nothing for a session that is gone or revoked (HSET would otherwise recreate a hash
-- without an expiry).
-- KEYS: session
-- ARGV: now (epoch ms)
local s = redis.call('HMGET', KEYS[1], 'user', 'used', 'revoked')
if not s[1] or s[3] then
  return 0
end
if tonumber(s[2]) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
end
return 1
