//! The Lua scripts behind every read-modify-write. Each runs atomically inside Redis and
//! touches only the keys it is given, all in one Redis Cluster slot (see `keys`), so two
//! server instances can never both complete, redeem or replay the same thing.
//!
//! Conventions: `now` and every deadline are milliseconds since the Unix epoch from the
//! caller's clock (never Redis `TIME`); a record is logically gone once `now` reaches its
//! deadline, even if its key's TTL (a duration from `now`, plus the TTL margin `margin`)
//! has not run out yet.

use redis::{Cmd, FromRedisValue};

use crate::error::RedisStoreError;
use crate::link::{Link, never_sent};

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
-- Keeps a sorted set of deadlines: forgets the members whose deadline has come, adds
-- `member` (unless its deadline has come too) and keeps the key until its last deadline.
local function zkeep(zkey, member, deadline, now, margin)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', int(now))
  if deadline > now then
    redis.call('ZADD', zkey, int(deadline), member)
  end
  local last = redis.call('ZRANGE', zkey, '-1', '-1', 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', zkey, int(tonumber(last[2]) - now + margin)) end
end
"#
    };
}

/// KEYS: ticket. ARGV: now, deadline, margin, client_id, ticket JSON. Answers `ok` or
/// `duplicate`.
const INSERT_TICKET: &str = concat!(
    prelude!(),
    r#"
local now, exp, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('HGET', KEYS[1], 'x'))
if kept and now < kept then return 'duplicate' end
redis.call('DEL', KEYS[1])
if exp > now then
  redis.call('HSET', KEYS[1], 'b', ARGV[5], 'c', ARGV[4], 'x', int(exp))
  redis.call('PEXPIRE', KEYS[1], int(exp - now + margin))
end
return 'ok'
"#
);

/// KEYS: ticket. Deletes the ticket and answers `{json, deadline, client_id}`, or nil when
/// there is none.
const TAKE_TICKET: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'b', 'x', 'c')
if not h[1] then return false end
redis.call('DEL', KEYS[1])
return h
"#;

/// KEYS: the client's set. ARGV: now, deadline, limit, member, margin. Counts one more
/// entry for the client, kept until the deadline. Answers `new`, `again` (the member was
/// already counted: a retry) or `limit`.
const CHARGE: &str = concat!(
    prelude!(),
    r#"
local now, exp, limit, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then
  zkeep(KEYS[1], ARGV[4], exp, now, margin)
  return 'again'
end
if redis.call('ZCARD', KEYS[1]) >= limit then return 'limit' end
zkeep(KEYS[1], ARGV[4], exp, now, margin)
return 'new'
"#
);

/// KEYS: a pending index. ARGV: now, expiry, member, margin. Adds the member, forgetting
/// the expired ones.
const INDEX: &str = concat!(
    prelude!(),
    r#"
zkeep(KEYS[1], ARGV[3], tonumber(ARGV[2]), tonumber(ARGV[1]), tonumber(ARGV[4]))
return 1
"#
);

/// KEYS: request. ARGV: now, keep-until, margin, then the hash's field/value pairs.
/// Answers `ok` or `duplicate`.
const INSERT_REQUEST: &str = concat!(
    prelude!(),
    r#"
local now, keep, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('HGET', KEYS[1], 'k'))
if kept and now < kept then return 'duplicate' end
redis.call('DEL', KEYS[1])
if keep > now then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
  redis.call('PEXPIRE', KEYS[1], int(keep - now + margin))
end
return 'ok'
"#
);

/// KEYS: request. ARGV: now, state tag, grant JSON, tokens, nonce. Answers `{unknown}`,
/// `{already}`, or `{completed | expired, field, value, ...}` with the request as it was.
/// A call that repeats the nonce of the call that completed the request (the store's own
/// retry after a lost answer) gets that call's answer again.
const COMPLETE: &str = concat!(
    prelude!(),
    r#"
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'unknown'} end
local h = fields(flat)
if now >= tonumber(h.k) then return {'unknown'} end
if h.s ~= 'pending' then
  if h.n and h.n == ARGV[5] and h.nr then
    table.insert(flat, 1, h.nr)
    return flat
  end
  return {'already'}
end
local status = 'completed'
if now >= tonumber(h.e) then
  status = 'expired'
  if h.p == '1' then
    redis.call('HSET', KEYS[1], 's', 'delivered', 't', '', 'n', ARGV[5], 'nr', status)
  end
else
  redis.call('HSET', KEYS[1], 's', ARGV[2], 'g', ARGV[3], 't', ARGV[4], 'n', ARGV[5], 'nr', status)
end
table.insert(flat, 1, status)
return flat
"#
);

/// KEYS: request. ARGV: now, client_id, interval increment, now exactly. Answers
/// `{unknown}`, `{used, tokens to revoke}`, `{expired}`, `{pending}`,
/// `{slow_down, interval}`, `{denied}`, `{failed}` or `{authorized, field, value, ...}` with
/// the request as it was.
///
/// A replay of a redeemed request moves its tokens (`t`) to `v`, which every later replay
/// answers again: the caller writes the revocations (in other slots) after the script, and
/// a revocation lost with a caller is written again at the next replay.
const POLL: &str = concat!(
    prelude!(),
    r#"
local now, inc = tonumber(ARGV[1]), tonumber(ARGV[3])
-- The fields every answer needs (the whole hash only for a redemption).
local m = redis.call('HMGET', KEYS[1], 'k', 'c', 's', 'e', 'i', 'l', 't', 'v')
if not m[1] then return {'unknown'} end
local h = {k = m[1], c = m[2], s = m[3], e = m[4], i = m[5], l = m[6] or nil, t = m[7] or nil, v = m[8] or nil}
if now >= tonumber(h.k) or h.c ~= ARGV[2] then return {'unknown'} end
local s = h.s
if s == 'redeemed' then
  local revoke = (h.t or '') .. (h.v or '')
  redis.call('HSET', KEYS[1], 'r', '1', 't', '', 'v', revoke)
  return {'used', revoke}
end
if s == 'delivered' or s == 'consumed' then return {'used', ''} end
if now >= tonumber(h.e) then return {'expired'} end
if s == 'pending' then
  local interval = tonumber(h.i)
  local early = h.l ~= nil and h.l ~= '' and now < tonumber(h.l) + interval * 1000
  redis.call('HSET', KEYS[1], 'l', int(now), 'lt', ARGV[4])
  if not early then return {'pending'} end
  if interval + inc < MAX then
    redis.call('HSET', KEYS[1], 'i', int(interval + inc))
    return {'slow_down', int(interval + inc)}
  end
  return {'slow_down', h.i}
end
if s == 'authorized' then
  local flat = redis.call('HGETALL', KEYS[1])
  redis.call('HSET', KEYS[1], 's', 'redeemed', 'g', '', 't', '', 'r', '0',
    'l', int(now), 'lt', ARGV[4])
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

/// KEYS: request. ARGV: now, tokens. Attaches the tokens to a redeemed request. Answers
/// the tokens to revoke at once (those of a request already replayed), or `''`.
const ATTACH_TOKENS: &str = r#"
local now = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 's', 'r', 'k', 't', 'v')
if not h[1] or now >= tonumber(h[3]) or h[1] ~= 'redeemed' then return '' end
if h[2] == '1' then
  redis.call('HSET', KEYS[1], 'v', (h[5] or '') .. ARGV[2])
  return ARGV[2]
end
redis.call('HSET', KEYS[1], 't', (h[4] or '') .. ARGV[2])
return ''
"#;

/// KEYS: jti, the client's set (one slot: both are tagged by the client). ARGV: now,
/// deadline, limit, member, margin. Answers `ok`, `replay` or `limit`. (`SET NX PX` alone
/// would judge "already there" by Redis's clock; this judges it by the caller's `now`.)
const REMEMBER_JTI: &str = concat!(
    prelude!(),
    r#"
local now, exp, limit, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[5])
local kept = tonumber(redis.call('GET', KEYS[1]))
if kept and now < kept then return 'replay' end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', int(now))
if not redis.call('ZSCORE', KEYS[2], ARGV[4]) and redis.call('ZCARD', KEYS[2]) >= limit then
  return 'limit'
end
zkeep(KEYS[2], ARGV[4], exp, now, margin)
if exp > now then
  redis.call('SET', KEYS[1], int(exp), 'PX', int(exp - now + margin))
else
  redis.call('DEL', KEYS[1])
end
return 'ok'
"#
);

/// A script: its text and its SHA-1.
pub(crate) struct Lua {
    code: &'static str,
    hash: String,
}

impl Lua {
    fn new(code: &'static str) -> Lua {
        Lua {
            code,
            hash: redis::Script::new(code).get_hash().to_owned(),
        }
    }

    /// A call of this script with `keys` (all in one slot).
    pub(crate) fn call<'a>(&'a self, keys: &[&str]) -> Call<'a> {
        Call {
            lua: self,
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            args: Vec::new(),
        }
    }
}

/// A script call being built.
pub(crate) struct Call<'a> {
    lua: &'a Lua,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl Call<'_> {
    pub(crate) fn arg(mut self, arg: impl redis::ToRedisArgs) -> Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    fn cmd(&self, by_hash: bool) -> Cmd {
        let mut cmd = if by_hash {
            let mut c = redis::cmd("EVALSHA");
            c.arg(&self.lua.hash);
            c
        } else {
            let mut c = redis::cmd("EVAL");
            c.arg(self.lua.code);
            c
        };
        cmd.arg(self.keys.len()).arg(&self.keys);
        for a in &self.args {
            cmd.arg(a.as_slice());
        }
        cmd
    }

    /// Runs the call as one step: `EVALSHA`, or `EVAL` when Redis does not know the script
    /// (after a restart or a failover, or on a node that never saw it); `EVAL` also caches
    /// it there for the next `EVALSHA`.
    pub(crate) async fn run<T: FromRedisValue>(
        &self,
        link: &Link,
        operation: &'static str,
    ) -> Result<T, RedisStoreError> {
        let mut conn = link.conn();
        let by_hash = self.cmd(true);
        let full = self.cmd(false);
        link.step(operation, async {
            let first = match by_hash.query_async(&mut conn).await {
                Err(e) if never_sent(&e) => by_hash.query_async(&mut conn).await,
                other => other,
            };
            match first {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    full.query_async(&mut conn).await
                }
                other => other,
            }
        })
        .await
    }
}

/// The scripts, with their SHA-1 computed once.
pub(crate) struct Scripts {
    pub(crate) insert_ticket: Lua,
    pub(crate) take_ticket: Lua,
    pub(crate) charge: Lua,
    pub(crate) index: Lua,
    pub(crate) insert_request: Lua,
    pub(crate) complete: Lua,
    pub(crate) poll: Lua,
    pub(crate) attach_tokens: Lua,
    pub(crate) remember_jti: Lua,
}

impl Scripts {
    pub(crate) fn new() -> Scripts {
        Scripts {
            insert_ticket: Lua::new(INSERT_TICKET),
            take_ticket: Lua::new(TAKE_TICKET),
            charge: Lua::new(CHARGE),
            index: Lua::new(INDEX),
            insert_request: Lua::new(INSERT_REQUEST),
            complete: Lua::new(COMPLETE),
            poll: Lua::new(POLL),
            attach_tokens: Lua::new(ATTACH_TOKENS),
            remember_jti: Lua::new(REMEMBER_JTI),
        }
    }

    /// Every script's text, for `SCRIPT LOAD` at start-up.
    pub(crate) fn all(&self) -> [&'static str; 9] {
        [
            self.insert_ticket.code,
            self.take_ticket.code,
            self.charge.code,
            self.index.code,
            self.insert_request.code,
            self.complete.code,
            self.poll.code,
            self.attach_tokens.code,
            self.remember_jti.code,
        ]
    }
}
