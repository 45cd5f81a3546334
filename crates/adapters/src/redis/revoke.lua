-- Revokes one session if the given user owns it and it is not revoked yet.
-- KEYS: session, the user's session index
-- ARGV: user id, session id
-- Returns 1 when revoked here, else 0.
local s = redis.call('HMGET', KEYS[1], 'user', 'revoked')
if s[1] ~= ARGV[1] or s[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'revoked', '1')
redis.call('SREM', KEYS[2], ARGV[2])
return 1
