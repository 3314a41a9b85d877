-- partial.lua answers a customer's place from Redis alone, for a process
-- whose in-memory board is still loading: ARGV[6] is the customer, ARGV[7]
-- its balance hash. It answers {'OK', balance, customers with at most that
-- balance, customers ranked, the top list's minimum, then the top list as
-- id, points pairs, highest first}, all from one moment.
local hk, nk, topk, mink = G .. ':b:' .. ARGV[7], G .. ':n', G .. ':top', G .. ':topmin'
has(G .. ':h1'); has(nk); has(topk); has(mink)
local bal = balance(hk, ARGV[6])
has(G .. ':h2:' .. (math.floor(bal / W) + 1))
if #missing > 0 then return retry() end
local out = {'OK', tostring(bal), tostring(atmost(bal)), redis.call('GET', nk) or '0', redis.call('GET', mink) or '1'}
for _, v in ipairs(redis.call('ZREVRANGE', topk, 0, -1, 'WITHSCORES')) do out[#out + 1] = v end
return out
