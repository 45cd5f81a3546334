-- Presents a refresh token: the whole decision of SessionStore::rotate, atomically. It
-- mirrors conduit_domain::session::RotationRules::decide (reject, rotate, reissue within
-- the grace window, revoke on reuse); the sessions contract suite holds all three stores
-- to the same outcomes.
-- KEYS: presented token, next token
-- ARGV: key prefix, now (epoch ms), '1' when the grace window is on, grace (whole ms,
--       rounded down), idle lifetime (whole ms, rounded up)
-- Returns {'rejected'} or {outcome, id, user, created, last used, expires, user agent or
-- nil}, outcome being 'rotated', 'grace' or 'reused'.
local sid = redis.call('HGET', KEYS[1], 'session')
if not sid then
  return {'rejected'}
end
local skey = ARGV[1] .. 'session:' .. sid
local s = redis.call('HMGET', skey, 'user', 'created', 'used', 'expires', 'revoked', 'ua')
local user, created, used, expires, revoked, ua = s[1], s[2], s[3], s[4], s[5], s[6]
if not user or revoked then
  return {'rejected'}
end
local now = tonumber(ARGV[2])
-- Alive: before the absolute end, and less than the idle lifetime since last use.
if not (now < tonumber(expires) and now - tonumber(used) < tonumber(ARGV[5])) then
  return {'rejected'}
end

local retired = redis.call('HGET', KEYS[1], 'retired')
local outcome
if not retired then
  outcome = 'rotated'
elseif ARGV[3] == '1' and now - tonumber(retired) <= tonumber(ARGV[4]) then
  outcome = 'grace'
else
  -- Presented again after the grace window: taken as theft, the session ends.
  redis.call('HSET', skey, 'revoked', '1')
  redis.call('SREM', ARGV[1] .. 'user:' .. user, sid)
  return {'reused', sid, user, created, used, expires, ua}
end

redis.call('HSET', skey, 'used', ARGV[2], 'refreshed', ARGV[2])
if not retired then
  -- Only the first retirement counts: the grace window does not slide.
  redis.call('HSET', KEYS[1], 'retired', ARGV[2])
end
-- As long as the session's whole lifetime, so it outlives the session in any case.
local ttl = string.format('%.0f', math.max(tonumber(expires) - tonumber(created), 1))
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'session', sid)
redis.call('PEXPIRE', KEYS[2], ttl)
return {outcome, sid, user, created, ARGV[2], expires, ua}
