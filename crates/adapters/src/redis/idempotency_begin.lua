-- Claims an idempotency key, or reports the record that holds it (see idempotency.rs).
-- KEYS[1]: the record. ARGV: now (epoch ms), token, fingerprint, lease end (epoch ms).
-- Returns {'claimed'} or {'held', fingerprint, expiry, status or '', headers, body}.
local held = redis.call('HMGET', KEYS[1], 'exp', 'fp', 'status', 'headers', 'body')
if held[1] and tonumber(held[1]) > tonumber(ARGV[1]) then
  return {'held', held[2], held[1], held[3] or '', held[4] or '', held[5] or ''}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'fp', ARGV[3], 'exp', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], math.max(tonumber(ARGV[4]), 1))
return {'claimed'}
