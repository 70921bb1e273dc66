// The session registry's Lua scripts: each check-then-write runs inside Redis as one step, so API nodes
// opening sessions at the same moment cannot pass a bound together, and two workers binding the same
// session cannot both win. Records are JSON strings (cjson); times are the caller's milliseconds.
//
// Keys (p = REDIS_KEY_PREFIX):
//   p:session:<id>                      the record, PX = until it expires
//   p:session-name:<tenant#>:<name>     -> id, same PX (tenant# = a digest of the tenant)
//   p:sessions                          zset id -> expiresAtMs (service bound)
//   p:sessions:tenant:<tenant#>         zset id -> expiresAtMs (tenant bound)
// Expired members are removed by score before every count, so the bounds count live sessions only; the
// zsets' own TTL is the longest a member can live, so an idle deployment leaves nothing behind.

/** Shared by open/touch: the refreshed expiry and the writes that carry it to every key. */
const REFRESH = `
local function refresh(rec, now, ttl, maxAge, recKey, nameKey, all, tz)
  local cap = now + ttl
  if maxAge > 0 then cap = math.min(cap, rec.createdAtMs + maxAge) end
  if cap > rec.expiresAtMs then rec.expiresAtMs = cap end
  local encoded = cjson.encode(rec)
  local px = rec.expiresAtMs - now
  redis.call('SET', recKey, encoded, 'PX', px)
  if rec.name then redis.call('SET', nameKey, rec.id, 'PX', px) end
  redis.call('ZADD', all, rec.expiresAtMs, rec.id)
  redis.call('ZADD', tz, rec.expiresAtMs, rec.id)
  redis.call('PEXPIRE', all, ttl)
  redis.call('PEXPIRE', tz, ttl)
  return encoded
end
`;

/**
 * KEYS: all, tz, nameKey. ARGV: now, ttl, maxAge, maxSessions, maxPerTenant, newId, tenant, name ('' = none),
 * recPrefix. Returns {'ok', json} | {'service'} | {'tenant'}.
 */
export const OPEN = `${REFRESH}
local now, ttl, maxAge = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local name = ARGV[8]
if name ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local raw = redis.call('GET', ARGV[9] .. existing)
    if raw then
      local rec = cjson.decode(raw)
      if rec.tenant == ARGV[7] and rec.expiresAtMs > now then
        return {'ok', refresh(rec, now, ttl, maxAge, ARGV[9] .. existing, KEYS[3], KEYS[1], KEYS[2])}
      end
    end
  end
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return {'service'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return {'tenant'} end
local life = ttl
if maxAge > 0 and maxAge < ttl then life = maxAge end
local rec = {id = ARGV[6], tenant = ARGV[7], createdAtMs = now, expiresAtMs = now + life}
if name ~= '' then rec.name = name end
return {'ok', refresh(rec, now, ttl, maxAge, ARGV[9] .. ARGV[6], KEYS[3], KEYS[1], KEYS[2])}
`;

/**
 * KEYS: all, tz, nameKey(tenant, idOrName). ARGV: now, ttl, maxAge, idOrName, tenant, recPrefix, refresh ('1'|'0').
 * Returns the record's JSON, or false when unknown, foreign or expired.
 */
export const FIND = `${REFRESH}
local now, ttl, maxAge = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local id = redis.call('GET', KEYS[3]) or ARGV[4]
local raw = redis.call('GET', ARGV[6] .. id)
if not raw then return false end
local rec = cjson.decode(raw)
if rec.tenant ~= ARGV[5] or rec.expiresAtMs <= now then return false end
if ARGV[7] ~= '1' then return raw end
local nameKey = KEYS[3]
if rec.name and rec.name ~= ARGV[4] then nameKey = ARGV[8] .. rec.name end
return refresh(rec, now, ttl, maxAge, ARGV[6] .. id, nameKey, KEYS[1], KEYS[2])
`;

/**
 * KEYS: all, tz, nameKey(tenant, idOrName). ARGV: idOrName, tenant, recPrefix, namePrefix (tenant's), channel.
 * Deletes every key of the session and publishes {id, tenant, host}; returns the record's JSON or false.
 */
export const CLOSE = `
local id = redis.call('GET', KEYS[3]) or ARGV[1]
local raw = redis.call('GET', ARGV[3] .. id)
if not raw then return false end
local rec = cjson.decode(raw)
if rec.tenant ~= ARGV[2] then return false end
redis.call('DEL', ARGV[3] .. id)
if rec.name then redis.call('DEL', ARGV[4] .. rec.name) end
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('PUBLISH', ARGV[5], cjson.encode({id = rec.id, tenant = rec.tenant, host = rec.host}))
return raw
`;

/** KEYS: recKey. ARGV: workerId, now. The holder after the call (first binder wins), or false when gone. */
export const BIND = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local rec = cjson.decode(raw)
if rec.expiresAtMs <= tonumber(ARGV[2]) then return false end
if rec.host then return rec.host end
rec.host = ARGV[1]
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return rec.host
`;
