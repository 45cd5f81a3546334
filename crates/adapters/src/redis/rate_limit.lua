-- One rate-limit check, GCRA: counts the request under KEYS[1] if it conforms, in one
-- script so that concurrent checks of a key are serialised by Redis.
--
-- KEYS[1]: the key's theoretical arrival time (TAT), epoch microseconds, as text.
-- ARGV[1]: limit, the largest burst (at least 1).
-- ARGV[2]: emission interval in microseconds (period / limit, at least 1).
-- ARGV[3]: the key's expiry in milliseconds, the period: by then the TAT is in the past,
--          which is the same as no TAT at all.
--
-- Reply: { allowed (1 or 0), remaining, reset_after ms, retry_after ms (0 if allowed) }.
-- Times sent back are rounded up to whole milliseconds, so waiting them is enough.
--
-- "Now" is the Redis server's clock (TIME), not the caller's: every instance sharing this
-- server then judges a key against one clock. Redis 5+ replicates a script's effects, not
-- the script, so reading the clock before writing is allowed.

local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local expiry_ms = ARGV[3]

-- Burst tolerance: a request conforms if it comes no earlier than TAT - tau.
local tau = interval * (limit - 1)

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- All values below are whole microseconds well under 2^53, so Lua's doubles hold them
-- exactly.
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then
  tat = now
end

local function ceil_ms(us)
  return math.ceil(us / 1000)
end

local allowed_at = tat - tau
if now < allowed_at then
  -- Refused: nothing is counted. The next request conforms at allowed_at; the whole
  -- allowance is back at tat.
  return { 0, 0, ceil_ms(tat - now), ceil_ms(allowed_at - now) }
end

tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', expiry_ms)
local reset = tat - now
-- Whole intervals left before the TAT would pass now + tau + interval.
local remaining = math.floor((tau + interval - reset) / interval)
return { 1, remaining, ceil_ms(reset), 0 }
