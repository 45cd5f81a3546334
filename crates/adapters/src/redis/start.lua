-- Starts a session with its first refresh token (replacing any earlier session or token
-- under the same keys, as the in-memory store does).
-- KEYS: session, first token, the owner's session index
-- ARGV: session id, user id, created (epoch ms), expires (epoch ms), key TTL (ms),
--       '1' when a User-Agent follows, User-Agent
local ttl = tonumber(ARGV[5])
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'created', ARGV[3], 'used', ARGV[3],
  'expires', ARGV[4])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'ua', ARGV[7])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], 'session', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[1])
-- The index lives as long as its longest-lived session (PTTL is negative when the key has
-- no expiry yet).
if redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return 1
