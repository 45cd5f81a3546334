-- Revokes one session if the given user owns it and it is not revoked yet.
-- KEYS: session
-- ARGV: user id
-- Returns 1 when revoked here, else 0.
local s = redis.call('HMGET', KEYS[1], 'user', 'revoked')
if s[1] ~= ARGV[1] or s[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'revoked', '1')
return 1
