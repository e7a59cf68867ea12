//! SQLite's one writer: writes that come at once on a SQLite file wait for each other in the
//! process instead of meeting in SQLite, so none of them needs SQLite's busy handler (creates
//! alone on the committer, the others in transactions on the writer's connection, taking
//! turns); and the write-ahead log stays bounded under sustained writes.
//!
//! The apps here run on a pool whose connections never wait for a lock (a busy timeout of
//! 0): a write that met another one in SQLite would fail with `SQLITE_BUSY` (a 500).

use arc_tests::TestApp;
use futures_util::future::join_all;
use serde_json::json;

/// How many writes are sent at once: the benchmark's concurrency.
const AT_ONCE: usize = 32;

/// 32 creates at once of a resource without hooks (each its `INSERT` alone), then of one
/// with hooks (each in its transaction with the hooks' own writes): every one succeeds.
#[tokio::test]
async fn concurrent_creates_never_meet_in_sqlite() {
    let app = TestApp::sqlite_file_unwaiting_with(arc_tests::ledger::app).await;
    let lines = join_all(
        (0..AT_ONCE).map(|i| app.post("/audit-lines", json!({"what": format!("line {i}")}))),
    )
    .await;
    for reply in &lines {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let entries = join_all(
        (0..AT_ONCE).map(|i| app.post("/entries", json!({"code": format!("e{i}"), "amount": i}))),
    )
    .await;
    for reply in &entries {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    // Each entry's create wrote its audit line in its transaction.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_lines").await,
        2 * AT_ONCE as i64
    );
    app.cleanup().await;
}

/// Creates alone (audit lines: the committer's batches) and creates in transactions (entries,
/// whose hooks write audit lines in theirs) all at once: the two connections take turns, and
/// every create succeeds.
#[tokio::test]
async fn creates_alone_and_in_transactions_at_once_never_meet_in_sqlite() {
    let app = TestApp::sqlite_file_unwaiting_with(arc_tests::ledger::app).await;
    let alone = (0..AT_ONCE).map(|i| app.post("/audit-lines", json!({"what": format!("a{i}")})));
    let in_transactions =
        (0..AT_ONCE).map(|i| app.post("/entries", json!({"code": format!("t{i}"), "amount": i})));
    let replies = join_all(alone.chain(in_transactions)).await;
    for reply in &replies {
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM entries").await,
        AT_ONCE as i64
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_lines").await,
        2 * AT_ONCE as i64
    );
    app.cleanup().await;
}

/// Creates at once that repeat each other's slugs: in the committer's batches, each repeat
/// is answered 409 on its own and every first one is created.
#[tokio::test]
async fn a_repeated_slug_among_creates_at_once_is_409_alone() {
    let app = TestApp::sqlite_file_unwaiting_with(arc_tests::memos::app).await;
    let token = arc_tests::notes::bearer("boss", &[], Some("acme"), &["admin"]);
    let headers = [("authorization", token.as_str())];
    let creates = (0..AT_ONCE).map(|i| {
        let body = json!({"title": format!("m{i}"), "slug": format!("s{}", i % 8)});
        app.send(axum::http::Method::POST, "/memos", Some(body), &headers)
    });
    let replies = join_all(creates).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    for reply in replies.iter().filter(|r| r.status != 201) {
        arc_tests::assert_error(reply, 409, "DUPLICATE_KEY");
    }
    assert_eq!(created, 8);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM memos").await, 8);
    app.cleanup().await;
}

/// Updates, deletes and creates at once, mixed with reads: every write succeeds, and the
/// rows are what the writes left.
#[tokio::test]
async fn concurrent_mixed_writes_never_meet_in_sqlite() {
    let app = TestApp::sqlite_file_unwaiting_with(arc_tests::ledger::app).await;
    let mut ids = Vec::new();
    for i in 0..AT_ONCE {
        let reply = app
            .post("/entries", json!({"code": format!("m{i}"), "amount": 1}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        ids.push(reply.id());
    }
    let writes = ids.iter().enumerate().map(|(i, id)| {
        let app = &app;
        async move {
            let uri = format!("/entries/{id}");
            let reply = match i % 4 {
                0 => app.patch(&uri, json!({"amount": 7})).await,
                1 => app.delete(&uri).await,
                2 => {
                    app.post("/entries", json!({"code": "new", "amount": 2}))
                        .await
                }
                _ => app.get(&uri).await,
            };
            (i, reply)
        }
    });
    for (i, reply) in join_all(writes).await {
        assert!(reply.status.is_success(), "write {i}: {}", reply.body);
    }
    let n = AT_ONCE as i64 / 4;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM entries WHERE amount = 7")
            .await,
        n
    );
    // 32 created, a quarter deleted, a quarter created again.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM entries").await,
        AT_ONCE as i64
    );
    app.cleanup().await;
}

/// The length of the log past which the checkpointer truncates it (`db::wal::WAL_LIMIT`).
const WAL_LIMIT: u64 = 16 << 20;

/// A reader holding its snapshot keeps every checkpoint from finishing, so the write-ahead log
/// grows past the checkpointer's limit; once the reader is gone, the checkpointer's next runs
/// empty the log and truncate its file (SQLite alone would keep the file up to the pool's
/// `journal_size_limit`, 64 MiB).
#[tokio::test]
async fn the_write_ahead_log_is_truncated_once_readers_let_it() {
    use arc_runtime::sea_orm::{ConnectionTrait, Statement, TransactionTrait};
    let app = TestApp::sqlite_file_with(arc_tests::ledger::app).await;
    let create = |i: usize| app.post("/audit-lines", json!({"what": format!("line {i}")}));
    assert_eq!(create(0).await.status, 201);
    // A read transaction on the app's pool: its snapshot pins the log.
    let reader = app.db.begin().await.expect("begin");
    let count = Statement::from_string(
        reader.get_database_backend(),
        "SELECT COUNT(*) FROM audit_lines",
    );
    reader.query_one_raw(count).await.expect("read");
    let mut n = 1;
    while app.wal_bytes().unwrap_or(0) <= WAL_LIMIT + (4 << 20) && n < 50_000 {
        assert_eq!(create(n).await.status, 201);
        n += 1;
    }
    let grown = app.wal_bytes().unwrap_or(0);
    assert!(
        grown > WAL_LIMIT,
        "the log grew to {grown} bytes only, after {n} writes"
    );
    reader.rollback().await.expect("end the read");
    // The checkpointer runs every 128 commits, beside the writes.
    let mut after = 0;
    while app.wal_bytes().unwrap_or(0) > WAL_LIMIT && after < 1024 {
        assert_eq!(create(n + after).await.status, 201);
        after += 1;
    }
    let now = app.wal_bytes().unwrap_or(0);
    assert!(
        now <= WAL_LIMIT,
        "the log is still {now} bytes after {after} more writes (it had grown to {grown})"
    );
    app.cleanup().await;
}
