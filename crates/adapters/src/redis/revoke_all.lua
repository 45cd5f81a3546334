-- Revokes every session of one user except, optionally, one.
-- KEYS: the user's session index
-- ARGV: key prefix, user id, '1' when a session is kept, the kept session id
-- Returns how many sessions were revoked here.
local revoked = 0
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not (ARGV[3] == '1' and sid == ARGV[4]) then
    local skey = ARGV[1] .. 'session:' .. sid
    local s = redis.call('HMGET', skey, 'user', 'revoked')
    if s[1] == ARGV[2] and not s[2] then
      redis.call('HSET', skey, 'revoked', '1')
      revoked = revoked + 1
    end
    redis.call('SREM', KEYS[1], sid)
  end
end
return revoked
