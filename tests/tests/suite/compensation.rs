//! Compensation on the shop: a route of the app's own runs a checkout whose steps reach an
//! outside ledger; it fails at each step in turn, the steps before it are undone (a refund
//! retried, or failing for good), and each failed run is in the audit trail
//! (`_compensation`) for the platform's admins and the organization's, never for another
//! organization's; a trail that cannot keep the entry leaves the run's outcome as it was.
//! On both databases; every answer checked against the document.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::config::{Audit, Retry};
use arc_runtime::{ArcError, Compensation, CustomRoute, RouteContext, Rule};
use arc_tests::trails::Down;
use arc_tests::{Backend, Reply, TestApp, acme_admin, assert_error, platform_admin, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

arc_tests::on_each_backend!(
    a_checkout_failing_at_each_step_is_undone_and_on_record,
    a_refund_that_keeps_failing_is_on_record,
);

/// What the outside world saw, in order (`reserve`, `release`, `charge`, `refund`…).
type Ledger = Arc<Mutex<Vec<String>>>;

/// A checkout's context: the request, and the ledger its steps write to.
struct Checkout {
    request: Attempt,
    ledger: Ledger,
    /// Refund attempts so far.
    refunds: u32,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Attempt {
    /// The step that fails, if any.
    fail_at: Option<String>,
    /// Whether the refund fails every attempt.
    refund_fails: bool,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Outcome {
    run: Option<String>,
    failed_step: Option<String>,
    undone: Vec<String>,
    undo_failures: Vec<String>,
}

impl Checkout {
    /// `what` in the ledger, unless the request says this step fails.
    fn act(&self, step: &str, what: &str) -> Result<(), arc_runtime::compensation::BoxError> {
        if self.request.fail_at.as_deref() == Some(step) {
            return Err(format!("{step}: refused").into());
        }
        self.ledger.lock().expect("ledger").push(what.to_owned());
        Ok(())
    }
}

/// reserve (release) -> charge (refund, whose first attempt fails) -> ship -> email
/// (fire and forget, always failing) -> confirm.
fn checkout() -> Compensation<Checkout> {
    Compensation::<Checkout>::new("checkout")
        .step_with_undo(
            "reserve",
            |c| Box::pin(async move { c.act("reserve", "reserve") }),
            |c| Box::pin(async move { c.act("release", "release") }),
        )
        .step_with_undo(
            "charge",
            |c| Box::pin(async move { c.act("charge", "charge") }),
            |c| {
                Box::pin(async move {
                    c.refunds += 1;
                    if c.refunds == 1 || c.request.refund_fails {
                        return Err("the bank is down".into());
                    }
                    c.act("refund", "refund")
                })
            },
        )
        .step("ship", |c| Box::pin(async move { c.act("ship", "ship") }))
        .fire_and_forget("email", |_| {
            Box::pin(async move { Err("no mail server".into()) })
        })
        .step("confirm", |c| {
            Box::pin(async move { c.act("confirm", "confirm") })
        })
        .retry(Retry {
            attempts: 3,
            base: Duration::from_millis(1),
            max: Duration::from_millis(5),
        })
}

/// The shop with `POST /checkout`, its steps writing to `ledger`.
async fn app(backend: Backend, ledger: &Ledger) -> TestApp {
    app_with(backend, ledger, Audit::new()).await
}

/// [`app`] with its trail set by `audit`.
async fn app_with(backend: Backend, ledger: &Ledger, audit: Audit) -> TestApp {
    let ledger = ledger.clone();
    backend
        .app(move |db| {
            let saga = checkout();
            arc_tests::shop_app(db).audit(audit).route_with(
                CustomRoute::post("/checkout", move |ctx: RouteContext, request: Attempt| {
                    let (saga, ledger) = (saga.clone(), ledger.clone());
                    async move {
                        let context = Checkout {
                            request,
                            ledger,
                            refunds: 0,
                        };
                        Ok::<_, ArcError>(match saga.run_recorded(&ctx, context).await {
                            Ok(_) => Outcome {
                                run: None,
                                failed_step: None,
                                undone: Vec::new(),
                                undo_failures: Vec::new(),
                            },
                            Err(failed) => Outcome {
                                run: Some(failed.id.to_string()),
                                failed_step: Some(failed.step.clone()),
                                undone: failed.undone().map(str::to_owned).collect(),
                                undo_failures: failed
                                    .undo_failures()
                                    .map(|(step, ..)| step.to_owned())
                                    .collect(),
                            },
                        })
                    }
                })
                .permission(Rule::OrgMember)
                .summary("Check out, undone when a step fails"),
            )
        })
        .await
}

async fn post_checkout(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app
        .send(
            Method::POST,
            "/checkout",
            Some(body),
            &[("authorization", token)],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["data"].clone()
}

/// `GET /_audit?resource=_compensation&sort=timestamp` as `token`.
async fn trail(app: &TestApp, token: &str) -> Reply {
    app.send(
        Method::GET,
        "/_audit?resource=_compensation&sort=timestamp&limit=100",
        None,
        &[("authorization", token)],
    )
    .await
}

fn globex_admin() -> String {
    shop_token("gus", "globex", &["admin"])
}

async fn a_checkout_failing_at_each_step_is_undone_and_on_record(backend: Backend) {
    let ledger = Ledger::default();
    let app = app(backend, &ledger).await;
    let ada = acme_admin();

    // Nothing fails (but the email): nothing undone, nothing on record.
    let done = post_checkout(&app, &ada, json!({"refund_fails": false})).await;
    assert_eq!(done["failed_step"], Value::Null);
    assert_eq!(
        ledger.lock().expect("ledger").drain(..).collect::<Vec<_>>(),
        ["reserve", "charge", "ship", "confirm"]
    );

    // Each step fails in turn: the ones before it are undone, the latest first.
    let cases: [(&str, &[&str], &[&str]); 4] = [
        ("reserve", &[], &[]),
        ("charge", &["reserve", "release"], &["reserve"]),
        (
            "ship",
            &["reserve", "charge", "refund", "release"],
            &["charge", "reserve"],
        ),
        (
            "confirm",
            &["reserve", "charge", "ship", "refund", "release"],
            &["charge", "reserve"],
        ),
    ];
    let mut runs = Vec::new();
    for (step, seen, undone) in cases {
        let outcome =
            post_checkout(&app, &ada, json!({"fail_at": step, "refund_fails": false})).await;
        assert_eq!(outcome["failed_step"], step);
        assert_eq!(outcome["undone"], json!(undone), "{step}");
        assert_eq!(outcome["undo_failures"], json!([]), "{step}");
        assert_eq!(
            ledger.lock().expect("ledger").drain(..).collect::<Vec<_>>(),
            seen,
            "{step}"
        );
        runs.push(outcome["run"].as_str().expect("run id").to_owned());
    }

    // The platform's admins read every failed run, as it went.
    let all = trail(&app, &platform_admin()).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let entries = all.body["docs"].as_array().expect("docs").clone();
    assert_eq!(entries.len(), 4, "{}", all.body);
    assert_eq!(
        all.column("documentId"),
        runs.iter().map(|r| json!(r)).collect::<Vec<_>>()
    );
    for (entry, (step, _, undone)) in entries.iter().zip(cases) {
        assert_eq!(entry["resource"], "_compensation");
        assert_eq!(entry["action"], "compensate");
        assert_eq!(entry["userId"], "ada");
        assert_eq!(entry["organizationId"], "acme");
        assert!(entry["requestId"].is_string(), "{entry}");
        assert_eq!(
            entry["after"],
            json!({
                "name": "checkout",
                "failedStep": step,
                "error": format!("{step}: refused"),
                "undone": undone,
                "undoFailures": [],
            })
        );
    }
    // The trail's query grammar applies to them too.
    let filtered = app
        .send(
            Method::GET,
            &format!("/_audit?action=compensate&documentId={}", runs[2]),
            None,
            &[("authorization", &platform_admin())],
        )
        .await;
    assert_eq!(filtered.column("documentId"), [json!(runs[2])]);

    // acme's admins read acme's runs; globex's admin none of them; a member is refused.
    let acme = trail(&app, &ada).await;
    assert_eq!(acme.status, 200, "{}", acme.body);
    assert_eq!(acme.body["total"], 4, "{}", acme.body);
    let globex = trail(&app, &globex_admin()).await;
    assert_eq!(globex.status, 200, "{}", globex.body);
    assert_eq!(globex.body["total"], 0, "{}", globex.body);
    let member = trail(&app, &shop_token("carl", "acme", &[])).await;
    assert_error(&member, 403, "FORBIDDEN");

    // A run in globex is globex's to read, not acme's.
    let gus = globex_admin();
    let theirs = post_checkout(
        &app,
        &gus,
        json!({"fail_at": "charge", "refund_fails": false}),
    )
    .await;
    let globex = trail(&app, &gus).await;
    assert_eq!(globex.column("documentId"), [theirs["run"].clone()]);
    assert_eq!(globex.body["docs"][0]["organizationId"], "globex");
    assert_eq!(trail(&app, &ada).await.body["total"], 4);
    assert_eq!(trail(&app, &platform_admin()).await.body["total"], 5);
    app.cleanup().await;
}

#[tokio::test]
async fn a_run_whose_entry_cannot_be_kept_keeps_its_outcome() {
    let ledger = Ledger::default();
    let app = app_with(Backend::Sqlite, &ledger, Audit::new().store(Down)).await;
    let outcome = post_checkout(
        &app,
        &acme_admin(),
        json!({"fail_at": "confirm", "refund_fails": false}),
    )
    .await;
    assert_eq!(outcome["failed_step"], "confirm");
    assert_eq!(outcome["undone"], json!(["charge", "reserve"]));
    assert_eq!(
        *ledger.lock().expect("ledger"),
        ["reserve", "charge", "ship", "refund", "release"]
    );
}

async fn a_refund_that_keeps_failing_is_on_record(backend: Backend) {
    let ledger = Ledger::default();
    let app = app(backend, &ledger).await;
    let outcome = post_checkout(
        &app,
        &acme_admin(),
        json!({"fail_at": "ship", "refund_fails": true}),
    )
    .await;
    assert_eq!(outcome["undone"], json!(["reserve"]));
    assert_eq!(outcome["undo_failures"], json!(["charge"]));
    // The charge stands: the release ran even so.
    assert_eq!(
        *ledger.lock().expect("ledger"),
        ["reserve", "charge", "release"]
    );
    let all = trail(&app, &platform_admin()).await;
    assert_eq!(all.body["total"], 1, "{}", all.body);
    assert_eq!(
        all.body["docs"][0]["after"],
        json!({
            "name": "checkout",
            "failedStep": "ship",
            "error": "ship: refused",
            "undone": ["reserve"],
            "undoFailures": [{"step": "charge", "attempts": 3, "error": "the bank is down"}],
        })
    );
    app.cleanup().await;
}
