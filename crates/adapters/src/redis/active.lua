-- The sessions of one user that are not revoked, for the caller to filter by time.
-- Prunes the index of sessions that expired away, were revoked, or changed owner.
-- KEYS: the user's session index
-- ARGV: key prefix, user id
-- Returns a list of {id, created, last used, expires, user agent or nil}.
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local s = redis.call('HMGET', ARGV[1] .. 'session:' .. sid,
    'user', 'created', 'used', 'expires', 'revoked', 'ua')
  if s[1] ~= ARGV[2] or s[5] then
    redis.call('SREM', KEYS[1], sid)
  else
    table.insert(out, {sid, s[2], s[3], s[4], s[6]})
  end
end
return out
