-- Stores the answer of the claim made with a token, if it still holds the key.
-- KEYS[1]: the record. ARGV: token, status, headers, body, expiry (epoch ms).
-- Returns 1 when stored, 0 when the claim no longer holds the key.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'status') == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'headers', ARGV[3], 'body', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], math.max(tonumber(ARGV[5]), 1))
return 1
