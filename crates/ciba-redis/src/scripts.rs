//! The Lua scripts behind every read-modify-write. Each runs atomically inside Redis, so
//! two server instances can never both complete, redeem or replay the same thing.
//!
//! Conventions: `now` and every deadline are milliseconds since the Unix epoch from the
//! caller's clock (never Redis `TIME`); a record is logically gone once `now` reaches its
//! deadline, even if its key's TTL (a duration from `now`) has not run out yet.

/// Helpers shared by the scripts.
macro_rules! prelude {
    () => {
        r#"
local MAX = 9007199254740992
local function int(n) return string.format('%d', n) end
local function fields(flat)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end
-- Forgets the client's entries whose deadline has come, and counts the others.
local function trim(zkey, now)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', int(now))
  return redis.call('ZCARD', zkey)
end
-- Counts one more entry for the client, kept until `deadline`; false at the limit.
local function charge(zkey, member, deadline, now, limit)
  if trim(zkey, now) >= limit then return false end
  if deadline > now then
    redis.call('ZADD', zkey, int(deadline), member)
    local last = redis.call('ZRANGE', zkey, '-1', '-1', 'WITHSCORES')
    redis.call('PEXPIRE', zkey, int(tonumber(last[2]) - now))
  end
  return true
end
-- Revokes each "fp millis secs nanos;" token that has not expired yet.
local function revoke(prefix, tokens, now)
  for fp, ms in string.gmatch(tokens or '', '([^ ;]+) (%d+) [^;]*;') do
    local exp = tonumber(ms)
    if exp > now then
      redis.call('SET', prefix .. 'rev:' .. fp, ms, 'PX', int(exp - now))
    end
  end
end
"#
    };
}

/// KEYS: ticket, client set. ARGV: now, deadline, limit, member, client_id, ticket JSON.
/// Answers `ok`, `duplicate` or `limit`.
const INSERT_TICKET: &str = concat!(
    prelude!(),
    r#"
local now, exp, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('HGET', KEYS[1], 'x'))
if kept and now < kept then return 'duplicate' end
if not charge(KEYS[2], ARGV[4], exp, now, limit) then return 'limit' end
redis.call('DEL', KEYS[1])
if exp > now then
  redis.call('HSET', KEYS[1], 'b', ARGV[6], 'c', ARGV[5], 'x', int(exp))
  redis.call('PEXPIRE', KEYS[1], int(exp - now))
end
return 'ok'
"#
);

/// KEYS: ticket. ARGV: prefix, member. Deletes the ticket and answers `{json, deadline}`,
/// or nil when there is none.
const TAKE_TICKET: &str = concat!(
    prelude!(),
    r#"
local h = redis.call('HMGET', KEYS[1], 'b', 'c', 'x')
if not h[1] then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[1] .. 'cli:' .. h[2], ARGV[2])
return {h[1], h[3]}
"#
);

/// KEYS: request, client set. ARGV: now, keep-until, limit, member, then the hash's
/// field/value pairs. Answers `ok`, `duplicate` or `limit`.
const INSERT_REQUEST: &str = concat!(
    prelude!(),
    r#"
local now, keep, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('HGET', KEYS[1], 'k'))
if kept and now < kept then return 'duplicate' end
if not charge(KEYS[2], ARGV[4], keep, now, limit) then return 'limit' end
redis.call('DEL', KEYS[1])
if keep > now then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5))
  redis.call('PEXPIRE', KEYS[1], int(keep - now))
end
return 'ok'
"#
);

/// KEYS: request. ARGV: now, state tag, grant JSON, tokens. Answers `{unknown}`,
/// `{already}`, or `{completed | expired, field, value, ...}` with the request as it was.
const COMPLETE: &str = concat!(
    prelude!(),
    r#"
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'unknown'} end
local h = fields(flat)
if now >= tonumber(h.k) then return {'unknown'} end
if h.s ~= 'pending' then return {'already'} end
local status = 'completed'
if now >= tonumber(h.e) then
  status = 'expired'
  if h.p == '1' then redis.call('HSET', KEYS[1], 's', 'delivered', 't', '') end
else
  redis.call('HSET', KEYS[1], 's', ARGV[2], 'g', ARGV[3], 't', ARGV[4])
end
table.insert(flat, 1, status)
return flat
"#
);

/// KEYS: request. ARGV: prefix, now, client_id, interval increment, now exactly. Answers
/// `{unknown}`, `{used}`, `{expired}`, `{pending}`, `{slow_down, interval}`, `{denied}`,
/// `{failed}` or `{authorized, field, value, ...}` with the request as it was.
const POLL: &str = concat!(
    prelude!(),
    r#"
local prefix, now, inc = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'unknown'} end
local h = fields(flat)
if now >= tonumber(h.k) or h.c ~= ARGV[3] then return {'unknown'} end
local s = h.s
if s == 'redeemed' then
  redis.call('HSET', KEYS[1], 'r', '1', 't', '')
  revoke(prefix, h.t, now)
  return {'used'}
end
if s == 'delivered' or s == 'consumed' then return {'used'} end
if now >= tonumber(h.e) then return {'expired'} end
if s == 'pending' then
  local interval = tonumber(h.i)
  local early = h.l ~= nil and h.l ~= '' and now < tonumber(h.l) + interval * 1000
  redis.call('HSET', KEYS[1], 'l', int(now), 'lt', ARGV[5])
  if not early then return {'pending'} end
  if interval + inc < MAX then
    redis.call('HSET', KEYS[1], 'i', int(interval + inc))
    return {'slow_down', int(interval + inc)}
  end
  return {'slow_down', h.i}
end
if s == 'authorized' then
  redis.call('HSET', KEYS[1], 's', 'redeemed', 'g', '', 't', '', 'r', '0',
    'l', int(now), 'lt', ARGV[5])
  table.insert(flat, 1, 'authorized')
  return flat
end
if s == 'denied' or s == 'failed' then
  redis.call('HSET', KEYS[1], 's', 'consumed')
  return {s}
end
return redis.error_reply('ciba: unknown request state')
"#
);

/// KEYS: request. ARGV: prefix, now, tokens. Answers 1 when the request was redeemed.
const ATTACH_TOKENS: &str = concat!(
    prelude!(),
    r#"
local now = tonumber(ARGV[2])
local h = redis.call('HMGET', KEYS[1], 's', 'r', 'k', 't')
if not h[1] or now >= tonumber(h[3]) or h[1] ~= 'redeemed' then return 0 end
if h[2] == '1' then
  revoke(ARGV[1], ARGV[3], now)
else
  redis.call('HSET', KEYS[1], 't', (h[4] or '') .. ARGV[3])
end
return 1
"#
);

/// KEYS: jti, client set. ARGV: now, deadline, limit, member. Answers `ok`, `replay` or
/// `limit`. (`SET NX PX` alone would judge "already there" by Redis's clock; this judges
/// it by the caller's `now`.)
const REMEMBER_JTI: &str = concat!(
    prelude!(),
    r#"
local now, exp, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('GET', KEYS[1]))
if kept and now < kept then return 'replay' end
if not charge(KEYS[2], ARGV[4], exp, now, limit) then return 'limit' end
if exp > now then
  redis.call('SET', KEYS[1], int(exp), 'PX', int(exp - now))
else
  redis.call('DEL', KEYS[1])
end
return 'ok'
"#
);

/// The scripts, with their SHA-1 computed once (`EVALSHA`, falling back to loading the
/// script when Redis does not know it, for example after a restart).
pub(crate) struct Scripts {
    pub(crate) insert_ticket: redis::Script,
    pub(crate) take_ticket: redis::Script,
    pub(crate) insert_request: redis::Script,
    pub(crate) complete: redis::Script,
    pub(crate) poll: redis::Script,
    pub(crate) attach_tokens: redis::Script,
    pub(crate) remember_jti: redis::Script,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            insert_ticket: redis::Script::new(INSERT_TICKET),
            take_ticket: redis::Script::new(TAKE_TICKET),
            insert_request: redis::Script::new(INSERT_REQUEST),
            complete: redis::Script::new(COMPLETE),
            poll: redis::Script::new(POLL),
            attach_tokens: redis::Script::new(ATTACH_TOKENS),
            remember_jti: redis::Script::new(REMEMBER_JTI),
        }
    }

    /// Every script, for loading them ahead of use.
    pub(crate) fn all(&self) -> [&redis::Script; 7] {
        [
            &self.insert_ticket,
            &self.take_ticket,
            &self.insert_request,
            &self.complete,
            &self.poll,
            &self.attach_tokens,
            &self.remember_jti,
        ]
    }
}
