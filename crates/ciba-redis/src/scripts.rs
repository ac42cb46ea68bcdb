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
-- Keeps a sorted set of deadlines: adds `member` (unless its deadline has come) and keeps
-- the key at least until that deadline (the key's TTL only grows: a key outliving its
-- members is harmless, they are logically gone at their deadlines). `zkeep` also forgets
-- the members whose deadline has come.
local function zadd(zkey, member, deadline, now, margin)
  if deadline > now then
    redis.call('ZADD', zkey, int(deadline), member)
    local ttl = deadline - now + margin
    if redis.call('PTTL', zkey) < ttl then redis.call('PEXPIRE', zkey, int(ttl)) end
  end
end
local function zkeep(zkey, member, deadline, now, margin)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', int(now))
  zadd(zkey, member, deadline, now, margin)
end
-- Counts `member` against the client's set `zkey` until `deadline`, unless the client is
-- at `limit`. Answers `new`, `again` (the member was already counted) or `limit`.
local function charge(zkey, member, deadline, now, limit, margin)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', int(now))
  if redis.call('ZCARD', zkey) >= limit and not redis.call('ZSCORE', zkey, member) then
    return 'limit'
  end
  if deadline <= now then
    if redis.call('ZSCORE', zkey, member) then return 'again' end
    return 'new'
  end
  local added = redis.call('ZADD', zkey, int(deadline), member)
  local ttl = deadline - now + margin
  if redis.call('PTTL', zkey) < ttl then redis.call('PEXPIRE', zkey, int(ttl)) end
  if added == 0 then return 'again' end
  return 'new'
end
"#
    };
}

/// The body of `complete`, as a function of the request's key.
macro_rules! complete {
    () => {
        r#"
local function complete(key)
  local now = tonumber(ARGV[1])
  local flat = redis.call('HGETALL', key)
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
      redis.call('HSET', key, 's', 'delivered', 't', '', 'n', ARGV[5], 'nr', status)
    end
  else
    redis.call('HSET', key, 's', ARGV[2], 'g', ARGV[3], 't', ARGV[4], 'n', ARGV[5], 'nr', status)
  end
  table.insert(flat, 1, status)
  return flat
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
if kept then
  if now < kept then return 'duplicate' end
  redis.call('DEL', KEYS[1])
end
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
return charge(KEYS[1], ARGV[4], tonumber(ARGV[2]), tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[5]))
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
if kept then
  if now < kept then return 'duplicate' end
  redis.call('DEL', KEYS[1])
end
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
const COMPLETE: &str = concat!(prelude!(), complete!(), "return complete(KEYS[1])\n");

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
  -- Never past the remaining lifetime (whole seconds, rounded up), never lowered.
  local slowed = math.min(interval + inc, math.max(math.ceil((tonumber(h.e) - now) / 1000), interval))
  if slowed > interval and slowed < MAX then
    redis.call('HSET', KEYS[1], 'i', int(slowed))
    return {'slow_down', int(slowed)}
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

// One Redis (not a Cluster): each operation is one script, whatever slots its keys hash
// to. A record written here names the keys of other slots it is counted or listed in
// (`z`: its client's set; `u`: its subject's pending index), so that the scripts that
// remove it can reach them without another round trip.

/// One Redis. KEYS: ticket, the client's set. ARGV: now, deadline, margin, client_id,
/// ticket JSON, limit, the ticket's member. Answers `ok`, `duplicate` or `limit` (then
/// nothing was written).
const INSERT_TICKET_ONE: &str = concat!(
    prelude!(),
    r#"
local now, exp, margin = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = tonumber(redis.call('HGET', KEYS[1], 'x'))
if kept and now < kept then return 'duplicate' end
if charge(KEYS[2], ARGV[7], exp, now, tonumber(ARGV[6]), margin) == 'limit' then return 'limit' end
if kept then redis.call('DEL', KEYS[1]) end
if exp > now then
  redis.call('HSET', KEYS[1], 'b', ARGV[5], 'c', ARGV[4], 'x', int(exp), 'z', KEYS[2])
  redis.call('PEXPIRE', KEYS[1], int(exp - now + margin))
end
return 'ok'
"#
);

/// One Redis. KEYS: ticket. ARGV: the ticket's member. Deletes the ticket and its entry in
/// its client's set; answers `{json, deadline, client_id, z}` (`z` empty when the ticket
/// named no set, and the caller removes the entry), or nil when there is none.
const TAKE_TICKET_ONE: &str = r#"
local h = redis.call('HMGET', KEYS[1], 'b', 'x', 'c', 'z')
if not h[1] then return false end
redis.call('DEL', KEYS[1])
if h[4] then
  redis.call('ZREM', h[4], ARGV[1])
else
  h[4] = ''
end
return h
"#;

/// One Redis: inserts a batch of requests (those that concurrent callers queued while
/// earlier batches were in flight; see `batch`). KEYS: the deployment's pending index,
/// then for each request its key, its client's set and its subject's pending index. ARGV:
/// now, the per-client limit, then for each request: keep-until (also the `k` field), the
/// key's TTL (`0`: keep-until has come), expiry (also the `e` field), the pending indexes'
/// TTL (`0`: not listed), auth_req_id, the `b`, `c`, `i` and `s` fields, the number of
/// further field/value pairs, those pairs. Answers one letter per request, in order: `o`
/// (stored), `d` (duplicate) or `l` (its client is at the limit); nothing is written for a
/// request answered `d` or `l`.
///
/// Every deadline and TTL arrives as the decimal text Redis takes, so the script converts
/// only what it compares; the fields every request has come in a fixed order, without
/// their names; the sets each request joins are written once per batch (one `ZADD` with
/// every member, one trim, one TTL check), which is where batching saves.
const INSERT_REQUESTS_ONE: &str = r#"
local now = ARGV[1]
local nnow, limit = tonumber(now), tonumber(ARGV[2])
local answers, counts, members, ttls, order = {}, {}, {}, {}, {}
-- Queues `member` for the sorted set `key`, which must then live at least `ttl` ms more.
local function join(key, score, member, ttl)
  local z = members[key]
  if not z then
    members[key] = {score, member}
    ttls[key] = ttl
    order[#order + 1] = key
  else
    if ttl > ttls[key] then ttls[key] = ttl end
    local n = #z
    z[n + 1] = score
    z[n + 2] = member
  end
end
local a, i, last = 3, 0, #ARGV
while a <= last do
  i = i + 1
  local req, cli, sub = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local keep, ttl_text, exp, listed, id = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]), ARGV[a + 4]
  local f = a + 5
  local more = tonumber(ARGV[a + 9])
  a = a + 10 + 2 * more
  local member = 'r:' .. id
  local kept = redis.call('HGET', req, 'k')
  if kept and nnow < tonumber(kept) then
    answers[i] = 'd'
  else
    local count = counts[cli]
    if not count then
      redis.call('ZREMRANGEBYSCORE', cli, '-inf', now)
      count = redis.call('ZCARD', cli)
      counts[cli] = count
    end
    if count >= limit and not redis.call('ZSCORE', cli, member) then
      answers[i] = 'l'
    else
      if kept then redis.call('DEL', req) end
      local ttl = tonumber(ttl_text)
      if ttl > 0 then
        counts[cli] = count + 1
        join(cli, keep, member, ttl)
        if more > 0 then
          redis.call('HSET', req, 'u', sub, 'b', ARGV[f], 'c', ARGV[f + 1], 'e', exp, 'k', keep,
            'i', ARGV[f + 2], 's', ARGV[f + 3], unpack(ARGV, f + 5, a - 1))
        else
          redis.call('HSET', req, 'u', sub, 'b', ARGV[f], 'c', ARGV[f + 1], 'e', exp, 'k', keep,
            'i', ARGV[f + 2], 's', ARGV[f + 3])
        end
        redis.call('PEXPIRE', req, ttl_text)
      end
      if listed > 0 then
        join(KEYS[1], exp, id, listed)
        join(sub, exp, id, listed)
      end
      answers[i] = 'o'
    end
  end
end
for _, key in ipairs(order) do
  -- A client's set was trimmed above; the pending indexes are trimmed here.
  if not counts[key] then redis.call('ZREMRANGEBYSCORE', key, '-inf', now) end
  redis.call('ZADD', key, unpack(members[key]))
  local ttl = ttls[key]
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, string.format('%d', ttl)) end
end
return table.concat(answers)
"#;

/// One Redis. KEYS: request, the deployment's pending index. ARGV: those of `complete`,
/// then auth_req_id. Answers as `complete`; a request it completes (or finds expired) also leaves the pending indexes.
const COMPLETE_ONE: &str = concat!(
    prelude!(),
    complete!(),
    r#"
local answer = complete(KEYS[1])
if answer[1] == 'completed' or answer[1] == 'expired' then
  redis.call('ZREM', KEYS[2], ARGV[6])
  local u = redis.call('HGET', KEYS[1], 'u')
  if u then redis.call('ZREM', u, ARGV[6]) end
end
return answer
"#
);

/// A script: its text and its SHA-1.
#[derive(Clone)]
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

    /// A call of this script with `keys` (all in one slot, except on one Redis).
    pub(crate) fn call<'a>(&'a self, keys: &[&str]) -> Call<'a> {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.hash).arg(keys.len());
        for key in keys {
            cmd.arg(*key);
        }
        Call { lua: self, cmd }
    }
}

/// A script call being built: the `EVALSHA` command itself.
pub(crate) struct Call<'a> {
    lua: &'a Lua,
    cmd: Cmd,
}

impl Call<'_> {
    pub(crate) fn arg(mut self, arg: impl redis::ToRedisArgs) -> Self {
        self.cmd.arg(arg);
        self
    }

    /// The same call as `EVAL` with the script's text (built only when Redis does not know
    /// the script).
    fn eval(&self) -> Cmd {
        let mut full = redis::cmd("EVAL");
        full.arg(self.lua.code);
        // Skips `EVALSHA` and the hash.
        for arg in self.cmd.args_iter().skip(2) {
            if let redis::Arg::Simple(bytes) = arg {
                full.arg(bytes);
            }
        }
        full
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
        let by_hash = &self.cmd;
        link.step(operation, async {
            let first = match by_hash.query_async(&mut conn).await {
                Err(e) if never_sent(&e) => by_hash.query_async(&mut conn).await,
                other => other,
            };
            match first {
                Err(e)
                    if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
                {
                    self.eval().query_async(&mut conn).await
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
    pub(crate) insert_ticket_one: Lua,
    pub(crate) take_ticket_one: Lua,
    pub(crate) insert_requests_one: Lua,
    pub(crate) complete_one: Lua,
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
            insert_ticket_one: Lua::new(INSERT_TICKET_ONE),
            take_ticket_one: Lua::new(TAKE_TICKET_ONE),
            insert_requests_one: Lua::new(INSERT_REQUESTS_ONE),
            complete_one: Lua::new(COMPLETE_ONE),
        }
    }

    /// Every script's text, for `SCRIPT LOAD` at start-up.
    pub(crate) fn all(&self) -> [&'static str; 13] {
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
            self.insert_ticket_one.code,
            self.take_ticket_one.code,
            self.insert_requests_one.code,
            self.complete_one.code,
        ]
    }
}
