//! Background jobs, in process memory and on Redis: a job runs; a failing one is retried
//! with backoff and then dead-lettered; a cron schedule fires; an event enqueues a job;
//! `GET /_jobs` is for platform admins; at shutdown a running job finishes, and one that
//! outlasts the window is returned to its queue. On Redis, instances share one queue: a job
//! runs once, on either, and each cron time is enqueued once.

#![allow(
    missing_docs,
    reason = "test fixtures: their fields are named for what they are"
)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use arc_runtime::config::Retry;
use arc_runtime::jobs::{BoxError, Job, JobClient, JobContext, JobError, Jobs};
use arc_tests::events::fast;
use arc_tests::{TestApp, platform_admin, shop_app, shop_token, test_redis};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the jobs of every test did: `(tag, attempt, when)`, tags unique per test and store.
static DONE: Mutex<Vec<(String, u32, Instant)>> = Mutex::new(Vec::new());

fn note(tag: &str, attempt: u32) {
    DONE.lock()
        .unwrap()
        .push((tag.to_owned(), attempt, Instant::now()));
}

fn runs_of(tag: &str) -> Vec<(u32, Instant)> {
    DONE.lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t == tag)
        .map(|(_, attempt, at)| (*attempt, *at))
        .collect()
}

/// Waits (at most `within`) until `done` holds.
async fn until(within: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the jobs of a test wait.
#[derive(Clone, Debug)]
enum Store {
    Memory,
    Redis(arc_stores::Redis),
}

impl Store {
    fn redis() -> Store {
        Store::Redis(test_redis())
    }

    /// Jobs on this store (polled often on Redis, so tests do not wait for the default 1 s).
    fn jobs(&self) -> Jobs {
        match self {
            Store::Memory => Jobs::new(),
            Store::Redis(redis) => Jobs::new()
                .store(redis.jobs())
                .poll(Duration::from_millis(20)),
        }
    }

    /// `what`, tagged with the store: the two runs of a test do not see each other's notes.
    fn tag(&self, what: &str) -> String {
        match self {
            Store::Memory => format!("memory-{what}"),
            Store::Redis(_) => format!("redis-{what}"),
        }
    }
}

/// Each scenario as two tests, one per store: `memory::name` and `redis::name` (which needs
/// Redis).
macro_rules! on_each_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::Store::Memory).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                #[ignore = "needs Redis"]
                async fn $scenario() {
                    super::$scenario(super::Store::redis()).await;
                }
            )*
        }
    };
}

on_each_store!(
    a_job_runs,
    a_job_running_past_its_timeout_is_a_failed_attempt,
    a_failing_job_is_retried_with_backoff_then_dead_lettered,
    a_delayed_job_waits,
    a_cron_schedule_fires,
    an_event_enqueues_a_job,
    jobs_are_shown_to_platform_admins_only,
    shutdown_lets_a_running_job_finish_and_returns_one_that_outlasts_it,
    a_handler_enqueues_through_the_state,
);

/// Notes its tag.
#[derive(Serialize, Deserialize)]
struct Note {
    tag: String,
}

impl Job for Note {
    const NAME: &'static str = "note";
    async fn run(self, ctx: JobContext) -> Result<(), BoxError> {
        note(&self.tag, ctx.attempt());
        Ok(())
    }
}

/// Fails its first `failures` attempts, noting each.
#[derive(Serialize, Deserialize)]
struct Flaky {
    tag: String,
    failures: u32,
}

impl Job for Flaky {
    const NAME: &'static str = "flaky";
    async fn run(self, ctx: JobContext) -> Result<(), BoxError> {
        note(&self.tag, ctx.attempt());
        if ctx.attempt() <= self.failures {
            return Err(format!("attempt {} failed", ctx.attempt()).into());
        }
        Ok(())
    }
}

/// Sleeps, then notes its tag.
#[derive(Serialize, Deserialize)]
struct Slow {
    tag: String,
    millis: u64,
}

impl Job for Slow {
    const NAME: &'static str = "slow";
    async fn run(self, ctx: JobContext) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        note(&self.tag, ctx.attempt());
        Ok(())
    }
}

async fn stats_of(client: &JobClient, queue: &str) -> arc_runtime::jobs::QueueStats {
    client
        .stats()
        .await
        .expect("the store answers")
        .into_iter()
        .find(|s| s.name == queue)
        .expect("the queue is listed")
}

async fn dead_in(client: &JobClient, queue: &str) -> Vec<arc_runtime::jobs::DeadLetter> {
    client.dead_letters(queue).await.expect("the store answers")
}

/// Waits until the `note` job tagged `tag` (`what`) ran, then until its queue counted it
/// done (once its run returned: the note is written during the run), exactly once.
async fn ran_once(client: &JobClient, tag: &str, what: &str) {
    until(Duration::from_secs(5), what, async || {
        !runs_of(tag).is_empty()
    })
    .await;
    until(Duration::from_secs(5), "the job counted done", async || {
        stats_of(client, "note").await.done >= 1
    })
    .await;
    assert_eq!(stats_of(client, "note").await.done, 1);
    assert_eq!(runs_of(tag).len(), 1, "{what} ran once");
}

async fn a_job_runs(store: Store) {
    let jobs = store.jobs().job::<Note>();
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let tag = store.tag("runs");
    let id = client
        .enqueue(Note { tag: tag.clone() })
        .await
        .expect("enqueued");
    assert!(!id.is_nil());
    ran_once(&client, &tag, "the job").await;
    let stats = stats_of(&client, "note").await;
    assert_eq!(
        (stats.pending, stats.running, stats.failed, stats.dead),
        (0, 0, 0, 0)
    );
}

#[tokio::test]
async fn a_job_is_enqueued_as_its_registered_type_only() {
    let jobs = Jobs::new().job::<Note>();
    let client = jobs.client();
    // An unregistered job is refused when enqueued, not lost later.
    let refused = client
        .enqueue(Slow {
            tag: "never".into(),
            millis: 0,
        })
        .await;
    assert!(
        matches!(refused, Err(JobError::Unregistered("slow"))),
        "{refused:?}"
    );
    // Another type under a registered name is not that job: its payload is not run as one.
    let impostor = client.enqueue(Impostor { tag: 7 }).await;
    assert!(
        matches!(impostor, Err(JobError::Unregistered("note"))),
        "{impostor:?}"
    );
    let twice = Jobs::new()
        .job::<Note>()
        .cron("* * * * * *", || Impostor { tag: 1 });
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let problems = shop_app(db).jobs(twice).problems();
    assert!(
        problems.iter().any(|p| p.contains("another job type")),
        "{problems:?}"
    );
    // Without jobs, nothing is enqueued.
    let none = arc_runtime::jobs::JobClient::default();
    assert!(matches!(
        none.enqueue(Note { tag: "x".into() }).await,
        Err(JobError::NotConfigured)
    ));
}

#[tokio::test]
async fn a_store_that_does_not_answer_refuses_the_job() {
    let down = arc_stores::Redis::new("redis://127.0.0.1:1", "arc-test:").unwrap();
    let jobs = Jobs::new().job::<Note>().store(down.jobs());
    let client = jobs.client();
    let app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let refused = client.enqueue(Note { tag: "lost".into() }).await;
    assert!(matches!(refused, Err(JobError::Store(_))), "{refused:?}");
    // The overview says so: a 503 in the error envelope, not a 500.
    let reply = app.as_(&platform_admin()).get("/_jobs").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.body["code"], "SERVICE_UNAVAILABLE", "{reply:?}");
}

/// Another type that says it is `note`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Impostor {
    tag: u32,
}

impl Job for Impostor {
    const NAME: &'static str = "note";
    async fn run(self, _ctx: JobContext) -> Result<(), BoxError> {
        Ok(())
    }
}

async fn a_job_running_past_its_timeout_is_a_failed_attempt(store: Store) {
    let retry = Retry {
        attempts: 2,
        base: Duration::from_millis(10),
        max: Duration::from_millis(20),
    };
    let jobs = store
        .jobs()
        .job::<Slow>()
        .retry(retry)
        .timeout(Duration::from_millis(100))
        .concurrency(1);
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let (hangs, after_it) = (store.tag("hangs"), store.tag("after-it"));
    client
        .enqueue(Slow {
            tag: hangs.clone(),
            millis: 60_000,
        })
        .await
        .expect("enqueued");
    client
        .enqueue(Slow {
            tag: after_it.clone(),
            millis: 0,
        })
        .await
        .expect("enqueued");
    until(Duration::from_secs(5), "the dead letter", async || {
        !dead_in(&client, "slow").await.is_empty()
    })
    .await;
    let dead = dead_in(&client, "slow").await;
    assert_eq!(dead[0].attempts, 2);
    assert!(dead[0].error.contains("ran past"), "{:?}", dead[0].error);
    assert!(runs_of(&hangs).is_empty(), "stopped, never finished");
    // Its one slot is free again: the next job runs.
    until(Duration::from_secs(5), "the next job", async || {
        !runs_of(&after_it).is_empty()
    })
    .await;
}

async fn a_failing_job_is_retried_with_backoff_then_dead_lettered(store: Store) {
    let retry = Retry {
        attempts: 3,
        base: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    let jobs = store.jobs().job::<Flaky>().retry(retry);
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let (once, always) = (store.tag("flaky-once"), store.tag("flaky-always"));

    // Fails once, then succeeds.
    client
        .enqueue(Flaky {
            tag: once.clone(),
            failures: 1,
        })
        .await
        .expect("enqueued");
    // Never succeeds: three attempts, then a dead letter.
    client
        .enqueue(Flaky {
            tag: always.clone(),
            failures: u32::MAX,
        })
        .await
        .expect("enqueued");

    until(Duration::from_secs(5), "the dead letter", async || {
        !dead_in(&client, "flaky").await.is_empty()
    })
    .await;
    until(Duration::from_secs(5), "the retried job", async || {
        stats_of(&client, "flaky").await.done == 1
    })
    .await;

    let once = runs_of(&once);
    assert_eq!(once.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    let always_runs = runs_of(&always);
    assert_eq!(
        always_runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    // Backoff: at least half of 100 ms, then of 200 ms (full jitter in the upper half).
    assert!(
        always_runs[1].1 - always_runs[0].1 >= Duration::from_millis(50),
        "{always_runs:?}"
    );
    assert!(
        always_runs[2].1 - always_runs[1].1 >= Duration::from_millis(100),
        "{always_runs:?}"
    );

    let dead = dead_in(&client, "flaky").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].error, "attempt 3 failed");
    assert_eq!(dead[0].payload["tag"], json!(always));
    let stats = stats_of(&client, "flaky").await;
    assert_eq!(
        (
            stats.pending,
            stats.running,
            stats.done,
            stats.failed,
            stats.dead
        ),
        (0, 0, 1, 4, 1)
    );
}

async fn a_delayed_job_waits(store: Store) {
    let jobs = store.jobs().job::<Note>();
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let tag = store.tag("delayed");
    let enqueued = Instant::now();
    client
        .enqueue_after(Note { tag: tag.clone() }, Duration::from_millis(300))
        .await
        .expect("enqueued");
    assert_eq!(stats_of(&client, "note").await.pending, 1);
    until(Duration::from_secs(5), "the delayed job", async || {
        !runs_of(&tag).is_empty()
    })
    .await;
    let ran = runs_of(&tag)[0].1;
    assert!(
        ran - enqueued >= Duration::from_millis(300),
        "ran after {:?}",
        ran - enqueued
    );
}

async fn a_cron_schedule_fires(store: Store) {
    let tag = store.tag("every-second");
    let make = {
        let tag = tag.clone();
        move || Note { tag: tag.clone() }
    };
    let jobs = store.jobs().cron("* * * * * *", make);
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    until(Duration::from_secs(5), "two ticks", async || {
        runs_of(&tag).len() >= 2
    })
    .await;
}

#[tokio::test]
async fn a_bad_schedule_keeps_the_app_from_starting() {
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let app = shop_app(db).jobs(Jobs::new().cron("every minute", || Note { tag: "x".into() }));
    let problems = app.problems();
    assert!(
        problems.iter().any(|p| p.contains("every minute")),
        "{problems:?}"
    );
}

async fn an_event_enqueues_a_job(store: Store) {
    let prefix = store.tag("event");
    let jobs = store.jobs().on_event("product.created", move |event| {
        let name = event.payload["data"]["name"].as_str()?;
        Some(Note {
            tag: format!("{prefix}-{name}"),
        })
    });
    let client = jobs.client();
    let app = TestApp::sqlite_with(|db| shop_app(db).events(fast()).jobs(jobs)).await;
    let reply = app
        .post("/products", json!({"name": "Jobbed", "price": 10}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let tag = store.tag("event-Jobbed");
    ran_once(&client, &tag, "the event's job").await;
}

async fn jobs_are_shown_to_platform_admins_only(store: Store) {
    let jobs = store.jobs().job::<Note>().cron("0 0 3 * * *", || Note {
        tag: "nightly".into(),
    });
    let client = jobs.client();
    let app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    client
        .enqueue(Note {
            tag: store.tag("shown"),
        })
        .await
        .expect("enqueued");
    until(Duration::from_secs(5), "the job", async || {
        stats_of(&client, "note").await.done == 1
    })
    .await;

    let anonymous = app.as_("").get("/_jobs").await;
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
    let member = shop_token("bob", "acme", &["member"]);
    assert_eq!(app.as_(&member).get("/_jobs").await.status, 403);
    let org_admin = shop_token("ada", "acme", &["admin"]);
    assert_eq!(app.as_(&org_admin).get("/_jobs").await.status, 403);

    let admin = platform_admin();
    let reply = app.as_(&admin).get("/_jobs").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let note = reply.body["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "note")
        .cloned()
        .expect("the queue");
    assert_eq!(
        note,
        json!({"name": "note", "pending": 0, "running": 0, "done": 1, "failed": 0, "dead": 0, "deadLetters": []})
    );
    let schedules = reply.body["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 1);
    assert_eq!(schedules[0]["job"], "note");
    assert_eq!(schedules[0]["schedule"], "0 0 3 * * *");
    assert!(schedules[0]["next"].as_str().unwrap().contains("T03:00:00"));

    // Documented, for admins.
    let doc = app.as_(&admin).get("/_docs/openapi.json").await;
    let op = &doc.body["paths"]["/_jobs"]["get"];
    assert!(op["responses"]["403"].is_object(), "{op}");
}

async fn shutdown_lets_a_running_job_finish_and_returns_one_that_outlasts_it(store: Store) {
    let jobs = store.jobs().job::<Slow>().concurrency(2);
    let client = jobs.client();
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let app = shop_app(db).jobs(jobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(listener, async {
        let _ = stopped.await;
    }));
    let (finishes, outlasts) = (store.tag("finishes"), store.tag("outlasts"));

    client
        .enqueue(Slow {
            tag: finishes.clone(),
            millis: 500,
        })
        .await
        .expect("enqueued");
    client
        .enqueue(Slow {
            tag: outlasts.clone(),
            millis: 60_000,
        })
        .await
        .expect("enqueued");
    until(Duration::from_secs(5), "both running", async || {
        stats_of(&client, "slow").await.running == 2
    })
    .await;

    stop.send(()).unwrap();
    server.await.unwrap().expect("served");

    assert_eq!(runs_of(&finishes).len(), 1, "the short job finished");
    assert!(runs_of(&outlasts).is_empty());
    let stats = stats_of(&client, "slow").await;
    assert_eq!(
        (stats.pending, stats.running, stats.done, stats.failed),
        (1, 0, 1, 0),
        "the long job is back in its queue"
    );
}

async fn a_handler_enqueues_through_the_state(store: Store) {
    use axum::extract::State;
    use tower::ServiceExt;

    let jobs = store.jobs().job::<Note>();
    let client = jobs.client();
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let tag = store.tag("from-a-handler");
    let sent = tag.clone();
    let router = arc_runtime::App::new(db)
        .jobs(jobs)
        .route(
            "/receipts",
            axum::routing::post(
                move |State(state): State<arc_runtime::ArcState>| async move {
                    state
                        .jobs()
                        .enqueue(Note { tag: sent })
                        .await
                        .map(|id| id.to_string())
                        .map_err(|e| e.to_string())
                },
            ),
        )
        .into_router();
    let request = axum::http::Request::post("/receipts")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    ran_once(&client, &tag, "the handler's job").await;
}

/// Two instances on one Redis queue: each job runs once, on one of them, and each cron time
/// is enqueued by one instance only.
#[tokio::test]
#[ignore = "needs Redis"]
async fn instances_on_redis_share_one_queue() {
    let redis = test_redis();
    let tick = "shared-every-second".to_owned();
    let instance = |tag: String| {
        Jobs::new()
            .store(redis.jobs())
            .poll(Duration::from_millis(20))
            .job::<Slow>()
            .cron("* * * * * *", move || Note { tag: tag.clone() })
    };
    let (a, b) = (instance(tick.clone()), instance(tick.clone()));
    let client = a.client();
    let app_a = TestApp::sqlite_with(|db| shop_app(db).jobs(a)).await;
    let _app_b = app_a.instance(|db| shop_app(db).jobs(b));
    let started = Instant::now();
    for n in 0..20 {
        client
            .enqueue(Slow {
                tag: format!("shared-{n}"),
                millis: 50,
            })
            .await
            .expect("enqueued");
    }
    until(Duration::from_secs(10), "the twenty jobs", async || {
        stats_of(&client, "slow").await.done == 20
    })
    .await;
    for n in 0..20 {
        assert_eq!(runs_of(&format!("shared-{n}")).len(), 1, "job {n} ran once");
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // Three seconds of a per-second schedule on two instances: about three runs, not six.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ticks = runs_of(&tick);
    assert!(
        (2..=4).contains(&ticks.len()),
        "one run per second across both instances: {}",
        ticks.len()
    );
    for pair in ticks.windows(2) {
        assert!(
            pair[1].1 - pair[0].1 >= Duration::from_millis(500),
            "two runs of one time: {ticks:?}"
        );
    }
}
