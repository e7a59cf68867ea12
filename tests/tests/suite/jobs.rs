//! Background jobs, in-process: a job runs; a failing one is retried with backoff and then
//! dead-lettered; a cron schedule fires; an event enqueues a job; `GET /_jobs` is for platform
//! admins; at shutdown a running job finishes, and one that outlasts the window is returned to
//! its queue.

#![allow(
    missing_docs,
    reason = "test fixtures: their fields are named for what they are"
)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use arc_runtime::config::Retry;
use arc_runtime::jobs::{BoxError, Job, JobClient, JobContext, JobError, Jobs};
use arc_tests::events::fast;
use arc_tests::{TestApp, platform_admin, shop_app, shop_token};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What the jobs of every test did: `(tag, attempt, when)`, tags unique per test.
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
async fn until(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

fn stats_of(client: &JobClient, queue: &str) -> arc_runtime::jobs::QueueStats {
    client
        .stats()
        .into_iter()
        .find(|s| s.name == queue)
        .expect("the queue is listed")
}

#[tokio::test]
async fn a_job_runs() {
    let jobs = Jobs::new().job::<Note>();
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    let id = client
        .enqueue(Note { tag: "runs".into() })
        .expect("enqueued");
    assert!(!id.is_nil());
    until(Duration::from_secs(5), "the job", || {
        !runs_of("runs").is_empty()
    })
    .await;
    until(Duration::from_secs(1), "its count", || {
        stats_of(&client, "note").done == 1
    })
    .await;
    let stats = stats_of(&client, "note");
    assert_eq!(
        (stats.pending, stats.running, stats.failed, stats.dead),
        (0, 0, 0, 0)
    );
    // An unregistered job is refused when enqueued, not lost later.
    let refused = client.enqueue(Slow {
        tag: "never".into(),
        millis: 0,
    });
    assert!(refused.is_err(), "{refused:?}");
    // Another type under a registered name is not that job: its payload is not run as one.
    let impostor = client.enqueue(Impostor { tag: 7 });
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

#[tokio::test]
async fn a_job_running_past_its_timeout_is_a_failed_attempt() {
    let retry = Retry {
        attempts: 2,
        base: Duration::from_millis(10),
        max: Duration::from_millis(20),
    };
    let jobs = Jobs::new()
        .job::<Slow>()
        .retry(retry)
        .timeout(Duration::from_millis(100))
        .concurrency(1);
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    client
        .enqueue(Slow {
            tag: "hangs".into(),
            millis: 60_000,
        })
        .expect("enqueued");
    client
        .enqueue(Slow {
            tag: "after-it".into(),
            millis: 0,
        })
        .expect("enqueued");
    until(Duration::from_secs(5), "the dead letter", || {
        !client.dead_letters("slow").is_empty()
    })
    .await;
    let dead = client.dead_letters("slow");
    assert_eq!(dead[0].attempts, 2);
    assert!(dead[0].error.contains("ran past"), "{:?}", dead[0].error);
    assert!(runs_of("hangs").is_empty(), "stopped, never finished");
    // Its one slot is free again: the next job runs.
    until(Duration::from_secs(5), "the next job", || {
        !runs_of("after-it").is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_failing_job_is_retried_with_backoff_then_dead_lettered() {
    let retry = Retry {
        attempts: 3,
        base: Duration::from_millis(100),
        max: Duration::from_millis(400),
    };
    let jobs = Jobs::new().job::<Flaky>().retry(retry);
    let client = jobs.client();
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;

    // Fails once, then succeeds.
    client
        .enqueue(Flaky {
            tag: "flaky-once".into(),
            failures: 1,
        })
        .expect("enqueued");
    // Never succeeds: three attempts, then a dead letter.
    client
        .enqueue(Flaky {
            tag: "flaky-always".into(),
            failures: u32::MAX,
        })
        .expect("enqueued");

    until(Duration::from_secs(5), "the dead letter", || {
        !client.dead_letters("flaky").is_empty()
    })
    .await;
    until(Duration::from_secs(5), "the retried job", || {
        stats_of(&client, "flaky").done == 1
    })
    .await;

    let once = runs_of("flaky-once");
    assert_eq!(once.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    let always = runs_of("flaky-always");
    assert_eq!(always.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 3]);
    // Backoff: at least half of 100 ms, then of 200 ms (full jitter in the upper half).
    assert!(
        always[1].1 - always[0].1 >= Duration::from_millis(50),
        "{always:?}"
    );
    assert!(
        always[2].1 - always[1].1 >= Duration::from_millis(100),
        "{always:?}"
    );

    let dead = client.dead_letters("flaky");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].error, "attempt 3 failed");
    assert_eq!(dead[0].payload["tag"], "flaky-always");
    let stats = stats_of(&client, "flaky");
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

#[tokio::test]
async fn a_cron_schedule_fires() {
    let jobs = Jobs::new().cron("* * * * * *", || Note {
        tag: "every-second".into(),
    });
    let _app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    until(Duration::from_secs(5), "two ticks", || {
        runs_of("every-second").len() >= 2
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

#[tokio::test]
async fn an_event_enqueues_a_job() {
    let jobs = Jobs::new().on_event("product.created", |event| {
        let name = event.payload["data"]["name"].as_str()?;
        Some(Note {
            tag: format!("event-{name}"),
        })
    });
    let client = jobs.client();
    let app = TestApp::sqlite_with(|db| shop_app(db).events(fast()).jobs(jobs)).await;
    let reply = app
        .post("/products", json!({"name": "Jobbed", "price": 10}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    until(Duration::from_secs(5), "the event's job", || {
        !runs_of("event-Jobbed").is_empty()
    })
    .await;
    // Counted done once its run returned (the note is written during the run).
    until(Duration::from_secs(5), "the job counted done", || {
        stats_of(&client, "note").done >= 1
    })
    .await;
    assert_eq!(stats_of(&client, "note").done, 1);
}

#[tokio::test]
async fn jobs_are_shown_to_platform_admins_only() {
    let jobs = Jobs::new().job::<Note>().cron("0 0 3 * * *", || Note {
        tag: "nightly".into(),
    });
    let client = jobs.client();
    let app = TestApp::sqlite_with(|db| shop_app(db).jobs(jobs)).await;
    client
        .enqueue(Note {
            tag: "shown".into(),
        })
        .expect("enqueued");
    until(Duration::from_secs(5), "the job", || {
        stats_of(&client, "note").done == 1
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

#[tokio::test]
async fn shutdown_lets_a_running_job_finish_and_returns_one_that_outlasts_it() {
    let jobs = Jobs::new().job::<Slow>().concurrency(2);
    let client = jobs.client();
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let app = shop_app(db).jobs(jobs);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(listener, async {
        let _ = stopped.await;
    }));

    client
        .enqueue(Slow {
            tag: "finishes".into(),
            millis: 500,
        })
        .expect("enqueued");
    client
        .enqueue(Slow {
            tag: "outlasts".into(),
            millis: 60_000,
        })
        .expect("enqueued");
    until(Duration::from_secs(5), "both running", || {
        stats_of(&client, "slow").running == 2
    })
    .await;

    stop.send(()).unwrap();
    server.await.unwrap().expect("served");

    assert_eq!(runs_of("finishes").len(), 1, "the short job finished");
    assert!(runs_of("outlasts").is_empty());
    let stats = stats_of(&client, "slow");
    assert_eq!(
        (stats.pending, stats.running, stats.done, stats.failed),
        (1, 0, 1, 0),
        "the long job is back in its queue"
    );
}

#[tokio::test]
async fn a_handler_enqueues_through_the_state() {
    use axum::extract::State;
    use tower::ServiceExt;

    let jobs = Jobs::new().job::<Note>();
    let client = jobs.client();
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let router = arc_runtime::App::new(db)
        .jobs(jobs)
        .route(
            "/receipts",
            axum::routing::post(|State(state): State<arc_runtime::ArcState>| async move {
                state
                    .jobs()
                    .enqueue(Note {
                        tag: "from-a-handler".into(),
                    })
                    .map(|id| id.to_string())
                    .map_err(|e| e.to_string())
            }),
        )
        .into_router();
    let request = axum::http::Request::post("/receipts")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    until(Duration::from_secs(5), "the handler's job", || {
        !runs_of("from-a-handler").is_empty()
    })
    .await;
    // Counted done once its run returned (the note is written during the run).
    until(Duration::from_secs(5), "the job counted done", || {
        stats_of(&client, "note").done >= 1
    })
    .await;
    assert_eq!(stats_of(&client, "note").done, 1);
}
