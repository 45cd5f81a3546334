-- Deletes the claim made with a token, if it still holds the key and has no answer.
-- KEYS[1]: the record. ARGV: token. Returns 1 when released, else 0.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] or redis.call('HEXISTS', KEYS[1], 'status') == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
