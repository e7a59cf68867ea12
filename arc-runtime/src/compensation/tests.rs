//! A compensation's runs: a failure at each step undoes exactly the steps before it, latest
//! first; undos are retried, and an undo that never succeeds is reported; fire-and-forget
//! failures and panics are what they say.

use std::sync::Mutex;
use std::time::Duration;

use super::*;

/// What the steps did, in order: `do a`, `undo a`…, and where they fail.
#[derive(Debug, Default)]
struct Log {
    lines: Vec<String>,
    /// The step that fails (its name).
    fail: Option<&'static str>,
    /// How many attempts of each undo fail before it succeeds (`u32::MAX`: never).
    undo_failures: u32,
    undo_attempts: u32,
}

const STEPS: [&str; 4] = ["reserve", "charge", "ship", "invoice"];

fn quick() -> Retry {
    Retry {
        attempts: 3,
        base: Duration::from_millis(1),
        max: Duration::from_millis(2),
    }
}

/// A step named `name` that logs itself, failing when the log says so.
fn work(name: &'static str) -> impl for<'a> Fn(&'a mut Log) -> StepFuture<'a> + Send + Sync {
    move |log| {
        Box::pin(async move {
            if log.fail == Some(name) {
                return Err(format!("{name} refused").into());
            }
            log.lines.push(format!("do {name}"));
            Ok(())
        })
    }
}

/// The undo of `name`, failing its first `undo_failures` attempts.
fn undo(name: &'static str) -> impl for<'a> Fn(&'a mut Log) -> StepFuture<'a> + Send + Sync {
    move |log| {
        Box::pin(async move {
            log.undo_attempts += 1;
            if log.undo_attempts <= log.undo_failures {
                return Err(format!("undo {name}: try again").into());
            }
            log.lines.push(format!("undo {name}"));
            Ok(())
        })
    }
}

/// Four undoable steps.
fn checkout() -> Compensation<Log> {
    STEPS
        .into_iter()
        .fold(Compensation::new("checkout"), |c, name| {
            c.step_with_undo(name, work(name), undo(name))
        })
        .retry(quick())
}

fn failing_at(step: &'static str) -> Log {
    Log {
        fail: Some(step),
        ..Log::default()
    }
}

#[tokio::test]
async fn a_run_that_succeeds_undoes_nothing() {
    let done = checkout().run(Log::default()).await.unwrap();
    assert_eq!(
        done.context.lines,
        ["do reserve", "do charge", "do ship", "do invoice"]
    );
    assert!(done.ignored.is_empty());
}

#[tokio::test]
async fn a_failure_at_each_step_undoes_exactly_the_ones_before_it_latest_first() {
    for (at, step) in STEPS.into_iter().enumerate() {
        let failed = checkout().run(failing_at(step)).await.unwrap_err();
        assert_eq!(failed.step, step);
        assert_eq!(failed.name, "checkout");
        assert_eq!(failed.error.to_string(), format!("{step} refused"));
        let done: Vec<String> = STEPS[..at].iter().map(|s| format!("do {s}")).collect();
        let undone: Vec<String> = STEPS[..at]
            .iter()
            .rev()
            .map(|s| format!("undo {s}"))
            .collect();
        assert_eq!(
            failed.context.lines,
            [done, undone.clone()].concat(),
            "{step}"
        );
        assert_eq!(
            failed
                .undone()
                .map(|s| format!("undo {s}"))
                .collect::<Vec<_>>(),
            undone
        );
        assert!(failed.is_fully_undone());
        for u in &failed.undos {
            assert!(matches!(u.outcome, UndoOutcome::Undone { attempts: 1 }));
        }
    }
}

#[tokio::test]
async fn an_undo_is_retried_until_it_succeeds() {
    let log = Log {
        undo_failures: 2,
        ..failing_at("ship")
    };
    let failed = checkout().run(log).await.unwrap_err();
    // The first undo (charge's) fails twice, then each undo succeeds.
    let outcomes: Vec<_> = failed
        .undos
        .iter()
        .map(|u| match u.outcome {
            UndoOutcome::Undone { attempts } => (u.step.as_str(), attempts),
            UndoOutcome::Failed { .. } => panic!("{u:?}"),
        })
        .collect();
    assert_eq!(outcomes, [("charge", 3), ("reserve", 1)]);
    assert_eq!(
        failed.context.lines,
        ["do reserve", "do charge", "undo charge", "undo reserve"]
    );
}

#[tokio::test]
async fn an_undo_that_never_succeeds_is_reported_and_the_others_still_run() {
    let log = Log {
        undo_failures: 3,
        ..failing_at("ship")
    };
    let failed = checkout().run(log).await.unwrap_err();
    assert!(!failed.is_fully_undone());
    let failures: Vec<_> = failed
        .undo_failures()
        .map(|(step, attempts, error)| (step, attempts, error.to_string()))
        .collect();
    assert_eq!(
        failures,
        [("charge", 3, "undo charge: try again".to_owned())]
    );
    assert_eq!(failed.undone().collect::<Vec<_>>(), ["reserve"]);
    assert_eq!(
        failed.to_string(),
        "`checkout` failed at step `ship`: ship refused (1 of 2 undos failed)"
    );
}

#[tokio::test]
async fn fire_and_forget_failures_do_not_fail_the_run_and_are_never_undone() {
    let c = Compensation::new("signup")
        .step_with_undo("account", work("account"), undo("account"))
        .fire_and_forget("welcome", work("welcome"))
        .step("done", work("done"));
    let done = c.run(failing_at("welcome")).await.unwrap();
    assert_eq!(done.context.lines, ["do account", "do done"]);
    let [ignored] = done.ignored.as_slice() else {
        panic!("{:?}", done.ignored)
    };
    assert_eq!(ignored.step, "welcome");
    assert_eq!(ignored.error.to_string(), "welcome refused");

    // Done, it is never undone; a plain step has nothing to undo.
    let c = Compensation::new("signup")
        .step_with_undo("account", work("account"), undo("account"))
        .fire_and_forget("welcome", work("welcome"))
        .step("check", work("check"))
        .step("last", work("last"));
    let failed = c.run(failing_at("last")).await.unwrap_err();
    assert_eq!(
        failed.context.lines,
        ["do account", "do welcome", "do check", "undo account"]
    );
    assert_eq!(failed.undone().collect::<Vec<_>>(), ["account"]);
}

#[tokio::test]
async fn a_step_that_panics_fails_like_one_that_errs() {
    let c = Compensation::new("panicky")
        .step_with_undo("one", work("one"), undo("one"))
        .step("two", |_: &mut Log| -> StepFuture<'_> {
            Box::pin(async move { panic!("boom") })
        });
    let failed = c.run(Log::default()).await.unwrap_err();
    assert_eq!(failed.step, "two");
    assert_eq!(failed.error.to_string(), "panicked: boom");
    assert_eq!(failed.context.lines, ["do one", "undo one"]);
}

#[tokio::test]
async fn the_observer_hears_every_step_and_undo_attempt() {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let ear = heard.clone();
    let c = checkout().observe(move |p| {
        let line = match p {
            Progress::Done { step } => format!("done {step}"),
            Progress::Failed { step, .. } => format!("failed {step}"),
            Progress::Ignored { step, .. } => format!("ignored {step}"),
            Progress::Undone { step, attempts } => format!("undone {step} {attempts}"),
            Progress::UndoFailed {
                step,
                attempt,
                retrying,
                ..
            } => format!("undo failed {step} {attempt} {retrying}"),
        };
        ear.lock().unwrap().push(line);
    });
    let log = Log {
        undo_failures: 1,
        ..failing_at("charge")
    };
    let failed = c.run(log).await.unwrap_err();
    assert!(failed.is_fully_undone());
    assert_eq!(
        *heard.lock().unwrap(),
        [
            "done reserve",
            "failed charge",
            "undo failed reserve 1 true",
            "undone reserve 2"
        ]
    );
}

#[tokio::test]
async fn a_compensation_runs_again_and_in_a_task() {
    let c = checkout();
    let first = c.run(failing_at("charge")).await.unwrap_err();
    let second = tokio::spawn({
        let c = c.clone();
        async move { c.run(failing_at("charge")).await }
    })
    .await
    .unwrap()
    .unwrap_err();
    assert_ne!(first.id, second.id);
    assert_eq!(first.context.lines, second.context.lines);
}

#[test]
fn a_run_is_a_send_future_when_its_context_is_send() {
    fn send<T: Send>(_: T) {}
    let c = checkout();
    send(c.run(Log::default()));
    send(c);
}
