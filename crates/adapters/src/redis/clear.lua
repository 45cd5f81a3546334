-- Deletes one SCAN page of the keys matching a pattern; called until the cursor is '0',
-- so that no single call blocks the server for long.
-- ARGV: cursor, MATCH pattern
-- Returns {next cursor, number of keys deleted}.
local page = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', 1000)
local deleted = 0
for _, key in ipairs(page[2]) do
  deleted = deleted + redis.call('DEL', key)
end
return {page[1], deleted}
