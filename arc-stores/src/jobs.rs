//! The background jobs' queue on Redis: [`RedisJobs`], so an app's instances share one queue.
//!
//! Under the prefix's `jobs:`, each job is a hash (`job:{id}`: its queue, payload, attempt,
//! last error and, while it runs, its lease's token); `due:{queue}` orders a queue's waiting
//! jobs by when they are due, then by arrival (an instance takes only the queues it runs, so
//! a rolling deploy's new job types wait for the instances that know them), and `running`
//! orders leased ones by when their lease runs out, both scored in the
//! server's milliseconds (`TIME`), so instances' clocks need not agree. `stats:{queue}` holds
//! a queue's counts, `dead:{queue}` its latest dead letters. Every step is one script, so the
//! counts move with the jobs; finishing checks the lease's token, so only its holder ends a
//! run. Taking a job first makes the jobs whose lease ran out (their instance stopped) due
//! again, as failed attempts.
//!
//! The scripts name the keys they build from the prefix: the store runs on one Redis server
//! (7, or 5 and later) or a primary with replicas, not on a Redis Cluster or a proxy that
//! routes by declared keys. Run it with `maxmemory-policy noeviction`: an evicted job is lost
//! (the take that finds it gone logs it on the server). Delivery is at least once: a job
//! whose instance dies, or whose end cannot be recorded, runs again when its lease runs out.

use std::time::Duration;

use arc_runtime::config::{BoxFuture, StoreError};
use arc_runtime::jobs::{
    DeadLetter, JobStore, Lease, MAX_DELAY, Outcome, QueueStats, QueuedJob, Taken,
};
use arc_runtime::uuid::Uuid;
use chrono::{DateTime, Utc};
use deadpool_redis::redis;
use serde_json::Value as Json;

use crate::Redis;

/// The first lines of every script: the server's time in milliseconds as `now`, and `wait`,
/// which makes a job due.
macro_rules! prelude {
    () => {
        "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- A queue's waiting jobs are the members `{arrival}:{id}` of `due:{queue}`: those due at the
-- same millisecond run in the order they arrived.
local function wait(queue, id, at)
  local arrival = redis.call('INCR', ARGV[1] .. 'arrivals')
  redis.call('ZADD', ARGV[1] .. 'due:' .. queue, at, string.format('%020d', arrival) .. ':' .. id)
end
"
    };
}

/// Enqueues a job, unless its id is known; for a cron schedule's run, only when its time is
/// not claimed already (the claim, holding the job's id, and the push are one step: no time
/// is claimed without its job). A time this job claimed (a retry whose first reply was lost)
/// is `ok`: it was enqueued then. No KEYS; ARGV: base, id, queue, payload, attempt, error,
/// after (ms), and for a schedule's run its tick key and how long the claim is kept (ms).
const PUSH: &str = concat!(
    prelude!(),
    r"
if ARGV[8] and not redis.call('SET', ARGV[8], ARGV[2], 'NX', 'PX', ARGV[9]) then
  if redis.call('GET', ARGV[8]) == ARGV[2] then return {'ok'} end
  return {'claimed'}
end
local key = ARGV[1] .. 'job:' .. ARGV[2]
if redis.call('EXISTS', key) == 1 then return {'known'} end
redis.call('HSET', key, 'job', ARGV[3], 'payload', ARGV[4], 'attempt', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', key, 'error', ARGV[6]) end
wait(ARGV[3], ARGV[2], now + tonumber(ARGV[7]))
redis.call('HINCRBY', ARGV[1] .. 'stats:' .. ARGV[3], 'pending', 1)
return {'ok'}
"
);

/// Makes the jobs whose lease ran out due again (of any queue), then leases the first due
/// job of the queues asked. KEYS: running; ARGV: base, lease (ms), token, the queues.
/// `{'job', id, queue, payload, attempt, error}`, or `{'wait', ms}`, or `{'empty'}`.
const TAKE: &str = concat!(
    prelude!(),
    r"
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(lapsed) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[1] .. 'job:' .. id
  local queue = redis.call('HGET', key, 'job')
  if queue then
    local attempt = redis.call('HINCRBY', key, 'attempt', 1) - 1
    redis.call('HSET', key, 'error', 'attempt ' .. attempt .. ' ran out of its lease: its instance stopped, or lost the store, before it ended')
    redis.call('HDEL', key, 'lease')
    wait(queue, id, now)
    local stats = ARGV[1] .. 'stats:' .. queue
    redis.call('HINCRBY', stats, 'running', -1)
    redis.call('HINCRBY', stats, 'failed', 1)
    redis.call('HINCRBY', stats, 'pending', 1)
  end
end
for _ = 1, 10 do
  local best, best_queue
  for i = 4, #ARGV do
    local first = redis.call('ZRANGE', ARGV[1] .. 'due:' .. ARGV[i], 0, 0, 'WITHSCORES')
    if #first > 0 then
      local due = tonumber(first[2])
      if not best or due < best[2] or (due == best[2] and first[1] < best[1]) then
        best, best_queue = {first[1], due}, ARGV[i]
      end
    end
  end
  if not best then return {'empty'} end
  if best[2] > now then return {'wait', best[2] - now} end
  redis.call('ZREM', ARGV[1] .. 'due:' .. best_queue, best[1])
  local id = string.sub(best[1], 22)
  local key = ARGV[1] .. 'job:' .. id
  local job = redis.call('HMGET', key, 'job', 'payload', 'attempt', 'error')
  local stats = ARGV[1] .. 'stats:' .. best_queue
  if job[1] then
    redis.call('HSET', key, 'lease', ARGV[3])
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    redis.call('HINCRBY', stats, 'pending', -1)
    redis.call('HINCRBY', stats, 'running', 1)
    return {'job', id, job[1], job[2], job[3], job[4] or ''}
  end
  -- Its hash is gone (the server evicted it: run it with `noeviction`): not a job any more.
  redis.call('HINCRBY', stats, 'pending', -1)
  redis.log(redis.LOG_WARNING, 'arc jobs: job ' .. id .. ' of ' .. best_queue .. ' vanished from its hash')
end
return {'wait', 0}
"
);

/// Records how a leased run ended, if the lease holds. KEYS: running; ARGV: base, id,
/// token, outcome (`done`, `retry`, `returned`, `dead`, `dead-unrun`), after (ms), error,
/// the dead letter, dead letters kept.
const FINISH: &str = concat!(
    prelude!(),
    r"
local key = ARGV[1] .. 'job:' .. ARGV[2]
if redis.call('HGET', key, 'lease') ~= ARGV[3] then return {'stale'} end
local queue = redis.call('HGET', key, 'job')
local stats = ARGV[1] .. 'stats:' .. queue
local outcome = ARGV[4]
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HINCRBY', stats, 'running', -1)
if outcome == 'done' then
  redis.call('DEL', key)
  redis.call('HINCRBY', stats, 'done', 1)
elseif outcome == 'retry' then
  redis.call('HDEL', key, 'lease')
  redis.call('HINCRBY', key, 'attempt', 1)
  redis.call('HSET', key, 'error', ARGV[6])
  wait(queue, ARGV[2], now + tonumber(ARGV[5]))
  redis.call('HINCRBY', stats, 'failed', 1)
  redis.call('HINCRBY', stats, 'pending', 1)
elseif outcome == 'returned' then
  redis.call('HDEL', key, 'lease')
  wait(queue, ARGV[2], now)
  redis.call('HINCRBY', stats, 'pending', 1)
else
  redis.call('DEL', key)
  if outcome == 'dead' then redis.call('HINCRBY', stats, 'failed', 1) end
  redis.call('HINCRBY', stats, 'dead', 1)
  local dead = ARGV[1] .. 'dead:' .. queue
  redis.call('RPUSH', dead, ARGV[7])
  redis.call('LTRIM', dead, -tonumber(ARGV[8]), -1)
end
return {'ok'}
"
);

/// How long a claimed cron time is remembered: far longer than instances' clocks disagree.
const TICK_KEPT: Duration = Duration::from_secs(3600);

/// The jobs' queue on Redis, shared by every instance (see the module's page).
///
/// ```no_run
/// use arc_runtime::jobs::Jobs;
///
/// # fn f(app: arc_runtime::App) -> Result<arc_runtime::App, arc_runtime::config::StoreError> {
/// let redis = arc_stores::Redis::new("redis://127.0.0.1:6379", "shop:")?;
/// let app = app.jobs(Jobs::new().store(redis.jobs()));
/// # Ok(app) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisJobs(pub(crate) Redis);

impl RedisJobs {
    /// The prefix of every key of the queue.
    fn base(&self) -> String {
        self.0.key("jobs", "")
    }

    /// `running`: the one key every script declares (the others are named from the base).
    fn running(&self) -> [String; 1] {
        [self.0.key("jobs", "running")]
    }
}

fn millis(duration: Duration) -> String {
    crate::redis::millis(duration.min(MAX_DELAY)).to_string()
}

fn unexpected(reply: &[String]) -> StoreError {
    StoreError::new(format!("unexpected reply from the jobs' script: {reply:?}"))
}

/// The leased job of `take`'s reply (after its first word).
fn leased(fields: &[String], token: Uuid) -> Result<Lease, StoreError> {
    let [id, job, payload, attempt, error] = fields else {
        return Err(unexpected(fields));
    };
    // A payload that is not JSON (written by something else) is run as a string: its job's
    // decoding fails, and it is retried and dead-lettered like any failing job.
    let payload = serde_json::from_str(payload).unwrap_or_else(|_| Json::String(payload.clone()));
    let mut queued = QueuedJob::new(job.as_str(), payload);
    queued.id = Uuid::parse_str(id).map_err(StoreError::new)?;
    queued.attempt = attempt.parse().map_err(StoreError::new)?;
    queued.error = Some(error.clone()).filter(|e| !e.is_empty());
    let mut lease = Lease::new(queued);
    lease.token = token;
    Ok(lease)
}

impl RedisJobs {
    /// Runs [`PUSH`] for `job`, with the tick it is the run of (its key), if any: whether it
    /// was enqueued now (not a known id, not a claimed tick).
    async fn push_job(
        &self,
        job: QueuedJob,
        after: Duration,
        tick: Option<String>,
    ) -> Result<bool, StoreError> {
        let (id, payload, attempt) = (
            job.id.to_string(),
            job.payload.to_string(),
            job.attempt.to_string(),
        );
        let error = job.error.unwrap_or_default();
        let mut args = vec![
            self.base(),
            id,
            job.job,
            payload,
            attempt,
            error,
            millis(after),
        ];
        if let Some(tick) = tick {
            args.extend([tick, millis(TICK_KEPT)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let reply = self.0.eval(PUSH, &[], &args).await?;
        Ok(reply.first().is_some_and(|word| word == "ok"))
    }
}

impl JobStore for RedisJobs {
    fn push<'a>(
        &'a self,
        job: QueuedJob,
        after: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.push_job(job, after, None).await.map(|_| ()) })
    }

    fn take<'a>(
        &'a self,
        queues: &'a [&'a str],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Taken, StoreError>> {
        Box::pin(async move {
            if queues.is_empty() {
                return Ok(Taken::Wait(None));
            }
            let token = Uuid::new_v4();
            let (base, lease_ms, token_text) = (self.base(), millis(lease), token.to_string());
            let mut args = vec![base.as_str(), lease_ms.as_str(), token_text.as_str()];
            args.extend_from_slice(queues);
            let reply = self.0.eval(TAKE, &self.running(), &args).await?;
            match reply.first().map(String::as_str) {
                Some("job") => leased(&reply[1..], token).map(Taken::Job),
                Some("wait") => {
                    let ms = reply
                        .get(1)
                        .and_then(|ms| ms.parse().ok())
                        .ok_or_else(|| unexpected(&reply))?;
                    Ok(Taken::Wait(Some(Duration::from_millis(ms))))
                }
                Some("empty") => Ok(Taken::Wait(None)),
                _ => Err(unexpected(&reply)),
            }
        })
    }

    fn finish<'a>(
        &'a self,
        lease: &'a Lease,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let job = &lease.job;
            let (word, after, error, dead) = match outcome {
                Outcome::Done => ("done", Duration::ZERO, String::new(), String::new()),
                Outcome::Retry { after, error } => ("retry", after, error, String::new()),
                Outcome::Returned => ("returned", Duration::ZERO, String::new(), String::new()),
                Outcome::Dead { error, failed } => {
                    let letter = serde_json::json!({
                        "id": job.id,
                        "job": job.job,
                        "payload": job.payload,
                        "attempts": if failed { job.attempt } else { job.attempt.saturating_sub(1) },
                        "error": error,
                        "at": Utc::now(),
                    });
                    let word = if failed { "dead" } else { "dead-unrun" };
                    (word, Duration::ZERO, error, letter.to_string())
                }
                _ => return Err(StoreError::new("an outcome this store does not know")),
            };
            let args = [
                self.base(),
                job.id.to_string(),
                lease.token.to_string(),
                word.to_owned(),
                millis(after),
                error,
                dead,
                DeadLetter::KEPT.to_string(),
            ];
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            self.0
                .eval(FINISH, &self.running(), &args)
                .await
                .map(|_| ())
        })
    }

    fn stats<'a>(
        &'a self,
        queues: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<QueueStats>, StoreError>> {
        Box::pin(async move {
            if queues.is_empty() {
                return Ok(Vec::new());
            }
            let mut pipe = redis::pipe();
            for queue in queues {
                pipe.hgetall(self.0.key("jobs", &format!("stats:{queue}")));
            }
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let counts: Vec<std::collections::HashMap<String, i64>> =
                pipe.query_async(&mut conn).await.map_err(StoreError::new)?;
            Ok(queues
                .iter()
                .zip(counts)
                .map(|(queue, counts)| {
                    let count = |name: &str| {
                        counts
                            .get(name)
                            .map_or(0, |n| u64::try_from(*n).unwrap_or(0))
                    };
                    let mut stats = QueueStats::new(*queue);
                    stats.pending = count("pending");
                    stats.running = count("running");
                    stats.done = count("done");
                    stats.failed = count("failed");
                    stats.dead = count("dead");
                    stats
                })
                .collect())
        })
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let from = -i64::try_from(limit).unwrap_or(i64::MAX);
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let letters: Vec<String> = redis::cmd("LRANGE")
                .arg(self.0.key("jobs", &format!("dead:{queue}")))
                .arg(from)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            // One letter that does not parse (written by something else) is left out, not
            // every queue's overview.
            Ok(letters
                .iter()
                .filter_map(|letter| {
                    serde_json::from_str(letter)
                        .inspect_err(|error| {
                            tracing::warn!(queue, %error, "jobs: a dead letter that does not parse is left out");
                        })
                        .ok()
                })
                .collect())
        })
    }

    fn push_scheduled<'a>(
        &'a self,
        schedule: &'a str,
        at: DateTime<Utc>,
        job: QueuedJob,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let tick = self.0.key(
                "jobs",
                &format!("tick:{schedule}:{}", at.timestamp_millis()),
            );
            self.push_job(job, Duration::ZERO, Some(tick)).await
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
