-- Presents a refresh token: the whole decision of SessionStore::rotate, atomically. It
-- mirrors conduit_domain::session::RotationRules::decide (reject, rotate, reissue within
-- the grace window, revoke on reuse); the sessions contract suite holds all three stores
-- to the same outcomes. Every key is in the session's slot.
-- KEYS: session, presented token, next token
-- ARGV: now (epoch ms), '1' when the grace window is on, grace (whole ms, rounded down),
--       idle lifetime (whole ms, rounded up)
-- Returns {'rejected'} or {outcome, user, created, last used, expires, user agent or
-- nil}, outcome being 'rotated', 'grace' or 'reused'.
local retired = redis.call('GET', KEYS[2])
if not retired then
  return {'rejected'}
end
local s = redis.call('HMGET', KEYS[1], 'user', 'created', 'used', 'expires', 'revoked', 'ua')
local user, created, used, expires, revoked, ua = s[1], s[2], s[3], s[4], s[5], s[6]
if not user or revoked then
  return {'rejected'}
end
local now = tonumber(ARGV[1])
-- Alive: before the absolute end, and less than the idle lifetime since last use.
if not (now < tonumber(expires) and now - tonumber(used) < tonumber(ARGV[4])) then
  return {'rejected'}
end

local outcome
if retired == '-' then
  outcome = 'rotated'
elseif ARGV[2] == '1' and now - tonumber(retired) <= tonumber(ARGV[3]) then
  outcome = 'grace'
else
  -- Presented again after the grace window: taken as theft, the session ends.
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return {'reused', user, created, used, expires, ua}
end

redis.call('HSET', KEYS[1], 'used', ARGV[1], 'refreshed', ARGV[1])
if retired == '-' then
  -- Only the first retirement counts: the grace window does not slide.
  redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL')
end
-- As long as the session's whole lifetime, so it outlives the session in any case.
local ttl = string.format('%.0f', math.max(tonumber(expires) - tonumber(created), 1))
redis.call('SET', KEYS[3], '-', 'PX', ttl)
return {outcome, user, created, ARGV[1], expires, ua}
