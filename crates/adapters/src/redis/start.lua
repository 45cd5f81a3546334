-- Starts a session with its first refresh token (replacing any earlier session or token
-- under the same keys, as the in-memory store does). Every key is in the session's slot.
-- KEYS: session, first token
-- ARGV: user id, created (epoch ms), expires (epoch ms), key TTL (ms),
--       '1' when a User-Agent follows, User-Agent
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'used', ARGV[2],
  'expires', ARGV[3])
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'ua', ARGV[6])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], '-', 'PX', ARGV[4])
return 1
