// The queue's bookkeeping in Redis, as Lua scripts so every check-and-count is atomic however many API
// nodes enqueue at once (a check in one round trip and a count in another let a burst from two nodes push
// the queue past its bounds). BullMQ holds the entries themselves; these scripts hold the bounds (entries
// and bytes, service-wide and per tenant) and the fair-queueing priorities.
//
// Keys (KEYS[1..6]): state hash {n: entries, b: bytes, round}, per-tenant counts, per-tenant bytes,
// per-tenant last priority, entries (id -> {t, b, p}: waiting, counted), claims (id -> worker id).

/** BullMQ's highest priority (2^21 - 1); beyond it every entry shares the last priority (FIFO). */
export const PRIORITY_LIMIT = 2 ** 21 - 1;

/**
 * Reserves room for one entry and gives it its priority, or says which bound refused it.
 * Start-time fair queueing: a tenant's next priority is max(its last priority, the round) + 1, where the
 * round is the priority of the last claimed entry; so a tenant with a backlog gets one entry per round and
 * a tenant arriving late waits one round, not for the backlog.
 * ARGV: id, tenant, bytes, capacity, perTenant, maxBytes (-1 = none), perTenantBytes (-1 = none).
 * Returns {1, priority} | {0, 'service' | 'tenant'} | {-1, 'duplicate'}.
 */
export const RESERVE = `
local id, tenant = ARGV[1], ARGV[2]
local bytes, capacity, perTenant = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local maxBytes, perTenantBytes = tonumber(ARGV[6]), tonumber(ARGV[7])
if redis.call('HEXISTS', KEYS[5], id) == 1 or redis.call('HEXISTS', KEYS[6], id) == 1 then return {-1, 'duplicate'} end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], 'b') or '0')
if n >= capacity then return {0, 'service'} end
if maxBytes >= 0 and b + bytes > maxBytes then return {0, 'service'} end
local tn = tonumber(redis.call('HGET', KEYS[2], tenant) or '0')
if tn >= perTenant then return {0, 'tenant'} end
local tb = tonumber(redis.call('HGET', KEYS[3], tenant) or '0')
if perTenantBytes >= 0 and tb + bytes > perTenantBytes then return {0, 'tenant'} end
local round = tonumber(redis.call('HGET', KEYS[1], 'round') or '0')
local last = tonumber(redis.call('HGET', KEYS[4], tenant) or '0')
local priority = math.min(math.max(last, round) + 1, ${PRIORITY_LIMIT})
redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HINCRBY', KEYS[1], 'b', bytes)
redis.call('HINCRBY', KEYS[2], tenant, 1)
redis.call('HINCRBY', KEYS[3], tenant, bytes)
redis.call('HSET', KEYS[4], tenant, priority)
redis.call('HSET', KEYS[5], id, cjson.encode({t = tenant, b = bytes, p = priority}))
return {1, priority}
`;

/**
 * Releases an entry's room (claim, remove, drain, or an add that failed); exactly once per entry, so a
 * cancel racing a claim frees the room once and only one of them "has" the entry.
 * ARGV: id, claimer (worker id when claimed, '' otherwise). Returns 1 when this call released it, else 0.
 * A claim records its claimer (for the lost-worker report) and moves the round forward; an empty queue
 * starts the rounds again from 0, which keeps priorities far below BullMQ's limit in practice.
 */
export const RELEASE = `
local id, claimer = ARGV[1], ARGV[2]
local raw = redis.call('HGET', KEYS[5], id)
if not raw then return 0 end
local entry = cjson.decode(raw)
redis.call('HDEL', KEYS[5], id)
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
redis.call('HINCRBY', KEYS[1], 'b', 0 - entry.b)
if redis.call('HINCRBY', KEYS[2], entry.t, -1) <= 0 then
  redis.call('HDEL', KEYS[2], entry.t)
  redis.call('HDEL', KEYS[3], entry.t)
  -- Nothing of this tenant waits: its next entry starts from the current round.
  redis.call('HDEL', KEYS[4], entry.t)
else
  redis.call('HINCRBY', KEYS[3], entry.t, 0 - entry.b)
end
if claimer ~= '' then
  redis.call('HSET', KEYS[6], id, claimer)
  local round = tonumber(redis.call('HGET', KEYS[1], 'round') or '0')
  if entry.p > round then redis.call('HSET', KEYS[1], 'round', entry.p) end
end
if n <= 0 then
  redis.call('HSET', KEYS[1], 'n', 0, 'b', 0, 'round', 0)
  redis.call('DEL', KEYS[4])
end
return 1
`;

/**
 * A lost claim is reported once, by whichever sees it first: the stalled check (ARGV[2] = '0': mark the
 * claim reported, keep it) or the claimer that meets the failed-on-claim job (ARGV[2] = '1': forget it).
 * KEYS[1]: claims. ARGV: id, final. Returns the claimer's worker id to report, or '' when already reported;
 * 'unknown' at the final step when no claimer was recorded (it died between claiming and recording).
 */
export const TAKE_LOST = `
local id, final = ARGV[1], ARGV[2] == '1'
local claimer = redis.call('HGET', KEYS[1], id)
if final then redis.call('HDEL', KEYS[1], id) end
if not claimer then
  if final then return 'unknown' end
  return ''
end
if string.sub(claimer, 1, 9) == 'reported:' then return '' end
if not final then redis.call('HSET', KEYS[1], id, 'reported:' .. claimer) end
return claimer
`;
