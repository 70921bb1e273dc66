// Run records in Redis, as Lua scripts so each state move is one atomic compare-and-set: when a cancel on
// one API node, a lost-worker report and the worker's own result race, exactly one final state is written.
// The record's JSON is built in JavaScript (Lua's cjson would turn an empty array into an object); the
// scripts only check the version, write, index, evict and announce.
//
// Per run: hash `<p>:run:<id>` {s: state, v: version, r: record JSON, t: tenant, b: text bytes once final}.
// Indexes: `<p>:runs:created` (zset id -> creation sequence), `<p>:runs:tenant:<tenant>` (the same, one
// tenant), `<p>:runs:finished` (zset id -> finish time ms), `<p>:runs:meta` {seq, bytes}.

/** Shared by the scripts: forgets one run everywhere (its key, both indexes, its bytes). */
const FORGET = `
local function forget(prefix, id)
  local run = prefix .. ':run:' .. id
  local tenant = redis.call('HGET', run, 't')
  local bytes = tonumber(redis.call('HGET', run, 'b') or '0')
  redis.call('DEL', run)
  redis.call('ZREM', prefix .. ':runs:created', id)
  redis.call('ZREM', prefix .. ':runs:finished', id)
  if tenant then redis.call('ZREM', prefix .. ':runs:tenant:' .. tenant, id) end
  if bytes > 0 then redis.call('HINCRBY', prefix .. ':runs:meta', 'bytes', 0 - bytes) end
end
`;

/**
 * Finished runs over the bounds go, oldest finished first: older than the TTL, beyond maxFinished, or
 * while the finished text bytes are over maxTotalBytes. Active runs are never evicted here.
 */
const EVICT = `
local function evict(prefix, now, ttlMs, maxFinished, maxBytes)
  local finished = prefix .. ':runs:finished'
  for _ = 1, 10000 do
    local oldest = redis.call('ZRANGE', finished, 0, 0, 'WITHSCORES')
    if #oldest == 0 then return end
    local count = redis.call('ZCARD', finished)
    local bytes = tonumber(redis.call('HGET', prefix .. ':runs:meta', 'bytes') or '0')
    local expired = tonumber(oldest[2]) < now - ttlMs
    if not (expired or count > maxFinished or (maxBytes >= 0 and bytes > maxBytes)) then return end
    forget(prefix, oldest[1])
  end
end
`;

/** ARGV: prefix, id, tenant, record JSON, active TTL ms. Returns 0 when the id exists already. */
export const CREATE = `
local prefix, id, tenant, json, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local run = prefix .. ':run:' .. id
if redis.call('EXISTS', run) == 1 then return 0 end
local seq = redis.call('HINCRBY', prefix .. ':runs:meta', 'seq', 1)
redis.call('HSET', run, 's', 'queued', 'v', 1, 'r', json, 't', tenant)
redis.call('PEXPIRE', run, ttl)
redis.call('ZADD', prefix .. ':runs:created', seq, id)
redis.call('ZADD', prefix .. ':runs:tenant:' .. tenant, seq, id)
return 1
`;

/**
 * Compare-and-set of one run. ARGV: prefix, id, expected version, new state, record JSON, final (1|0),
 * text bytes, now ms, key TTL ms, finished TTL ms, maxFinished, maxTotalBytes (-1 = none), channel.
 * Returns 1 written, 0 the version moved (re-read and try again), -1 unknown or already final.
 * A final write announces the id on the channel in the same step, so no waiter misses it.
 */
export const UPDATE = FORGET + EVICT + `
local prefix, id, expected, state, json = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local final, bytes, now, keyTtl = ARGV[6] == '1', tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local run = prefix .. ':run:' .. id
local current = redis.call('HMGET', run, 's', 'v')
if not current[1] then return -1 end
if current[1] == 'succeeded' or current[1] == 'failed' or current[1] == 'cancelled' then return -1 end
if current[2] ~= expected then return 0 end
redis.call('HSET', run, 's', state, 'v', tonumber(expected) + 1, 'r', json)
redis.call('PEXPIRE', run, keyTtl)
if final then
  redis.call('HSET', run, 'b', bytes)
  redis.call('HINCRBY', prefix .. ':runs:meta', 'bytes', bytes)
  redis.call('ZADD', prefix .. ':runs:finished', now, id)
  evict(prefix, now, tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]))
  redis.call('PUBLISH', ARGV[13], id)
end
return 1
`;

/** ARGV: prefix, now ms, finished TTL ms, maxFinished, maxTotalBytes (-1 = none). */
export const EVICT_NOW = FORGET + EVICT + `
evict(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
return 1
`;

/** ARGV: prefix, id. */
export const DELETE = FORGET + `
forget(ARGV[1], ARGV[2])
return 1
`;
