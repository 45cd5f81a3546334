-- Adds a session to its user's index (a sorted set: session id, scored by the session's
-- absolute end), which lives as long as its longest-lived session.
-- KEYS: the user's index
-- ARGV: session id, expires (epoch ms), key TTL (ms)
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
-- PTTL is negative when the key has no expiry yet.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
