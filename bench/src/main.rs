//! `cargo run --release -p arc-bench [-- SECONDS [ROUNDS]]` (and `-- wal [SECONDS [MODE
//! [mixed]]]`: the write-ahead log's size under SECONDS of creates): three servers of the shop's
//! product resource, on copies of seeded SQLite files:
//!
//! - `open`: the resource generated without authentication, permissions or tenancy;
//! - `hand`: the same open resource hand-written in axum + sea-orm;
//! - `floor`: the same three routes in axum over one rusqlite connection used inline, with
//!   cached prepared statements (the SQLite floor: every table shows each server ÷ floor);
//! - `secured`: the shop's own resource: bearer JWT, permission rules, multi-tenancy, field
//!   rules and the created_by hook, called as an admin of the seeded organization;
//! - `production`: the open resource with the production preset and a rate limit on
//!   (`ARC_BENCH_PROD_OFF=compression,ratelimit,timeout,etag,security,metrics,inflight` turns
//!   plugins off, to see what each costs);
//! - the query cache: `cached` (the open resource with the cache on: the same list again is a
//!   `HIT`, a list never asked before a `MISS`), `tagged` (the same with ETags on, as the
//!   production preset has them: a `HIT` is tagged from the digest kept with its body),
//!   `stale` (every read `STALE`, with its refresh in the background) and `memory`, a bare
//!   axum handler answering the list's JSON from memory (the ceiling a `HIT` is measured
//!   against).
//!
//! `open` and `secured` turn off the App's optional plugins (metrics, ETags, security
//! headers, timeout), so they measure the generated layer alone.
//!
//! Each server runs in a child process (this binary, `serve` mode) on a single-threaded
//! runtime pinned to core 0 (when `taskset` exists); the load generator runs here on the other
//! core: 32 keep-alive connections per route (opened again for each slice, below), a 1 s
//! warm-up, then SECONDS (default 5) measured.
//!
//! The servers of a round are up side by side and take turns at the reads: each read route's
//! measured time is cut into slices of half a second, served by each server in turn, so a
//! change of the machine's speed (this VM's drifts by ±30% within minutes) falls on every
//! server alike and the ratios hold where the absolute figures do not (see [`side_by_side`]).
//! Creates are measured one server after another (the checkpoints they leave behind would
//! fall into another's slice). ROUNDS (default 2) rotate the servers' order, each on fresh
//! copies of the seed; figures are means over the rounds.
//!
//! Prints req/s, p50, p99 and server CPU per request for each route, open against
//! hand-written and secured against open, each server's RSS once started (before any request;
//! on its line, split into anonymous memory and pages of files, mostly the executable's) and
//! after its run, its start (spawn to listening), and the events of the secured server's
//! creates (the shop has events on): how many its relay published while it ran, at what rate,
//! and their lag.
//! `ARC_BENCH_ONLY=floor,open` measures the servers named alone and prints their lines only.

mod floor;
mod hand;
mod load;
mod open;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_runtime::chrono::{Duration as Age, Utc};
use arc_runtime::sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use arc_runtime::uuid::Uuid;
use open::open_product_entity as open_product;
use shop::product_entity as product;

const ROWS: usize = 1000;
const CONCURRENCY: usize = 32;
/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS: f64 = 100.0;
/// The servers, in the order of the first round.
const MODES: [&str; 9] = [
    "open",
    "hand",
    "floor",
    "secured",
    "production",
    "memory",
    "cached",
    "tagged",
    "stale",
];
/// The servers of the query cache's table, which measure lists only.
const CACHE_MODES: [&str; 4] = ["memory", "cached", "tagged", "stale"];
/// The HS256 secret of the secured server.
const SECRET: &[u8] = b"arc-bench secret, 32 bytes or more";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(&args[2], Path::new(&args[3])),
        Some("wal") => wal(
            args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60),
            args.get(3).map_or("open", String::as_str),
            args.get(4).is_some_and(|m| m == "mixed"),
        ),
        Some("inproc") => inproc(
            args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000),
            args.get(3).map(String::as_str),
            args.get(4).map(String::as_str),
        ),
        _ => {
            let seconds = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
            let rounds = args
                .get(2)
                .and_then(|s| s.parse().ok())
                .unwrap_or(2usize)
                .max(1);
            run(Duration::from_secs(seconds), rounds)
        }
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The server: one thread, one resource, until killed.
fn serve(mode: &str, db_path: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let router = router(mode, db_path).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await?;
        Ok(())
    })
}

/// Turns off the optional plugins an `App` has by default: the bare generated layer.
fn bare(app: arc_runtime::App) -> arc_runtime::App {
    app.without_metrics()
        .etag(false)
        .without_security_headers()
        .without_timeout()
}

/// The list every server answers.
const LIST: &str = "/products?limit=20";

/// The server of `mode` (see the module) over the database file at `path`.
async fn router(mode: &str, path: &Path) -> Result<axum::Router> {
    use arc_runtime::config::{KeyBy, RateLimit};
    if mode == "floor" {
        return Ok(floor::router(path)?);
    }
    let db = arc_runtime::connect(&sqlite_url(path)).await?;
    let open = || arc_runtime::App::new(db.clone()).resource::<open::OpenProduct>();
    Ok(match mode {
        "open" => bare(open()).cursor_secret(b"bench").into_router(),
        // The shop's own cache is off here: this server measures what security costs.
        "secured" => bare(shop::app(db.clone(), SECRET)?)
            .without_cache()
            .cursor_secret(b"bench")
            .into_router(),
        "cached" => bare(arc_runtime::App::new(db.clone()).resource::<open::CachedProduct>())
            .cursor_secret(b"bench")
            .into_router(),
        "tagged" => bare(arc_runtime::App::new(db.clone()).resource::<open::CachedProduct>())
            .etag(true)
            .cursor_secret(b"bench")
            .into_router(),
        "stale" => bare(arc_runtime::App::new(db.clone()).resource::<open::StaleProduct>())
            .cursor_secret(b"bench")
            .into_router(),
        "memory" => {
            // The open server's answer to the list, asked once, then served as bytes.
            use tower::ServiceExt;
            let request = axum::http::Request::get(LIST).body(axum::body::Body::empty())?;
            let answer = bare(open()).into_router().oneshot(request).await?;
            let body = axum::body::to_bytes(answer.into_body(), usize::MAX).await?;
            axum::Router::new().route(
                "/products",
                axum::routing::get(move || {
                    let body = body.clone();
                    async move {
                        (
                            [(axum::http::header::CONTENT_TYPE, "application/json")],
                            body,
                        )
                    }
                }),
            )
        }
        // Every production plugin, with a rate limit high enough never to refuse.
        "production" => {
            // ARC_BENCH_PROD_OFF=compression,ratelimit,timeout,etag,security,metrics,inflight
            // turns plugins off, to see what each costs.
            let off = std::env::var("ARC_BENCH_PROD_OFF").unwrap_or_default();
            let mut app = open()
                .preset(arc_runtime::Preset::Production)
                .cursor_secret(b"bench");
            if !off.contains("ratelimit") {
                app = app.rate_limit(RateLimit::new(u64::MAX, Duration::from_secs(60), KeyBy::Ip));
            }
            if off.contains("compression") {
                app = app.compression(false);
            }
            if off.contains("timeout") {
                app = app.without_timeout();
            }
            if off.contains("etag") {
                app = app.etag(false);
            }
            if off.contains("security") {
                app = app.without_security_headers();
            }
            if off.contains("metrics") {
                app = app.without_metrics();
            }
            if off.contains("inflight") {
                app = app.without_max_in_flight();
            }
            app.into_router()
        }
        _ => hand::router(db),
    })
}

/// `arc-bench wal [SECONDS [MODE [mixed]]]`: SECONDS (default 60) of creates on the server
/// MODE (default `open`), with lists at the same time when `mixed`; the size of the SQLite
/// file's write-ahead log is sampled every 100 ms and its largest and last sizes printed.
fn wal(seconds: u64, mode: &str, mixed: bool) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("arc-bench-wal-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (open_seed, _, ids) = rt.block_on(seed(&dir))?;
    let db = dir.join(format!("{mode}-wal.db"));
    std::fs::copy(&open_seed, &db)?;
    let server = Server::start(mode, &db)?;
    let mut routes = requests(Arc::new(ids), server.addr, "");
    let Route {
        name: create_name,
        status: create_status,
        make: create,
        ..
    } = routes.pop().ok_or("no create")?;
    let list = routes.swap_remove(0).make;
    let wal_path = PathBuf::from(format!("{}-wal", db.display()));
    let size = move || std::fs::metadata(&wal_path).map_or(0, |m| m.len());
    let duration = Duration::from_secs(seconds);
    let (stats, largest) = rt.block_on(async {
        let sampler = async {
            let mut largest = 0;
            let end = tokio::time::Instant::now() + duration + Duration::from_secs(1);
            while tokio::time::Instant::now() < end {
                largest = largest.max(size());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            largest
        };
        let half = CONCURRENCY / 2;
        let creates = async {
            load::drive(
                server.addr,
                create,
                create_status,
                if mixed { half } else { CONCURRENCY },
                Duration::from_secs(1),
                duration,
            )
            .await
            .stats()
        };
        let lists = async {
            if mixed {
                let s = load::drive(
                    server.addr,
                    list,
                    200,
                    half,
                    Duration::from_secs(1),
                    duration,
                );
                Some(s.await.stats())
            } else {
                None
            }
        };
        let (stats, lists, largest) = tokio::join!(creates, lists, sampler);
        if let Some(l) = lists {
            eprintln!("  lists: {:.0} req/s, {} errors", l.per_sec, l.errors);
        }
        (stats, largest)
    });
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "{mode} {create_name}{}: {seconds} s, {:.0} req/s, p99 {:.1} ms, {} errors; WAL largest {:.1} MiB, last {:.1} MiB; database {:.1} MiB",
        if mixed { " with lists at once" } else { "" },
        stats.per_sec,
        stats.p99_us as f64 / 1000.0,
        stats.errors,
        mib(largest),
        mib(size()),
        mib(std::fs::metadata(&db).map_or(0, |m| m.len()))
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `arc-bench inproc [N [MODE [ROUTE]]]`: N in-process requests per route and server (no
/// sockets), for the CPU cost of each layer without network noise (run it under
/// `taskset -c 0`, or `perf stat`/`perf record` it with one MODE and ROUTE: list, get).
fn inproc(n: usize, only: Option<&str>, route: Option<&str>) -> Result<()> {
    use tower::ServiceExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("arc-bench-inproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    rt.block_on(async {
        let (open_seed, shop_seed, ids) = seed(&dir).await?;
        // The cache's servers answer lists only: asked for by name.
        let asked = |m: &&str| only.map_or(!CACHE_MODES.contains(m), |o| o == *m);
        for mode in MODES.into_iter().filter(asked) {
            let seed = if mode == "secured" {
                &shop_seed
            } else {
                &open_seed
            };
            let router = router(mode, seed).await?;
            let auth = auth_header(mode)?;
            // Parsed once: the client's cost of a header is not the server's.
            let token = auth.trim().strip_prefix("authorization: ").unwrap_or("");
            let token = (!token.is_empty())
                .then(|| axum::http::HeaderValue::from_str(token))
                .transpose()?;
            let routes: &[&str] = if CACHE_MODES.contains(&mode) {
                &["list"]
            } else {
                &["list", "get", "create"]
            };
            for name in routes
                .iter()
                .copied()
                .filter(|r| route.is_none_or(|o| o == *r))
            {
                let start = std::time::Instant::now();
                let cpu_start = self_cpu_seconds();
                for i in 0..n {
                    let (method, uri, body, status) = match name {
                        "list" => ("GET", LIST.to_owned(), String::new(), 200),
                        "get" => (
                            "GET",
                            format!("/products/{}", ids[i % ids.len()]),
                            String::new(),
                            200,
                        ),
                        _ => (
                            "POST",
                            "/products".to_owned(),
                            format!(r#"{{"name":"In {i}","price":{i}}}"#),
                            201,
                        ),
                    };
                    let mut req = axum::http::Request::builder().method(method).uri(uri);
                    // The peer address a served request has (the rate limit keys on it).
                    let peer: std::net::SocketAddr = ([127, 0, 0, 1], 40000).into();
                    req = req.extension(axum::extract::ConnectInfo(peer));
                    if let Some(token) = &token {
                        req = req.header(axum::http::header::AUTHORIZATION, token.clone());
                    }
                    if !body.is_empty() {
                        req = req.header("content-type", "application/json");
                    }
                    let res = router
                        .clone()
                        .oneshot(req.body(axum::body::Body::from(body))?)
                        .await?;
                    assert_eq!(res.status(), status);
                    axum::body::to_bytes(res.into_body(), usize::MAX).await?;
                }
                let us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
                let cpu = (self_cpu_seconds() - cpu_start) * 1e6 / n as f64;
                println!("{mode:<8} {name:<5} {us:>7.1} µs/request, {cpu:>6.1} µs CPU/request");
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    if std::env::var_os("ARC_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("kept {}", dir.display());
    }
    Ok(())
}

/// CPU time this process has used (all threads), in seconds.
fn self_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    cpu_from_stat(&stat)
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
fn cpu_from_stat(stat: &str) -> f64 {
    // Fields after the parenthesised command name: utime is the 14th field, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / CLOCK_TICKS
}

/// One product row of either entity (the open one has nullable `org_id` and `created_by`).
macro_rules! product_row {
    ($entity:ident, $id:expr, $n:expr, $now:expr, $org:expr, $by:expr) => {
        $entity::ActiveModel {
            id: Set($id),
            org_id: Set($org),
            name: Set(format!("Product {}", $n)),
            slug: Set(Some(format!("product-{}", $n))),
            price: Set(100 + $n as i64),
            status: Set("active".into()),
            category_id: Set(None),
            cost: Set(Some(50)),
            internal_note: Set(Some("seeded".into())),
            is_featured: Set($n % 10 == 0),
            created_by: Set($by),
            deleted_at: Set(None),
            created_at: Set($now - Age::seconds($n as i64)),
            updated_at: Set($now),
        }
    };
}

/// Two seeded database files (the open resource's table, the shop's), each copied for every
/// server run so all start from the same rows with the same ids.
async fn seed(dir: &Path) -> Result<(PathBuf, PathBuf, Vec<Uuid>)> {
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..ROWS).map(|_| Uuid::new_v4()).collect();
    let open_path = dir.join("seed-open.db");
    let db = arc_runtime::connect(&sqlite_url(&open_path)).await?;
    let app = arc_runtime::App::new(db.clone()).resource::<open::OpenProduct>();
    app.migrate().await?;
    let rows: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| product_row!(open_product, *id, n, now, Some("acme".into()), None))
        .collect();
    for chunk in rows.chunks(200) {
        open_product::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await?;
    }
    checkpoint(db).await?;

    let shop_path = dir.join("seed-shop.db");
    let db = arc_runtime::connect(&sqlite_url(&shop_path)).await?;
    shop::app(db.clone(), SECRET)?.migrate().await?;
    let rows: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| product_row!(product, *id, n, now, "acme".into(), "seed".into()))
        .collect();
    for chunk in rows.chunks(200) {
        product::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await?;
    }
    checkpoint(db).await?;
    Ok((open_path, shop_path, ids))
}

async fn checkpoint(db: arc_runtime::sea_orm::DatabaseConnection) -> Result<()> {
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    db.close().await?;
    Ok(())
}

struct Server {
    child: Child,
    addr: std::net::SocketAddr,
    /// From the spawn to the port's line: the server's cold start, process start included.
    started_in: Duration,
}

impl Server {
    fn start(mode: &str, db: &Path) -> Result<Server> {
        let exe = std::env::current_exe()?;
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
        let spawned = std::time::Instant::now();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.arg("-c").arg("0").arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let mut child = cmd
            .arg("serve")
            .arg(mode)
            .arg(db)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line.trim().parse()?;
        Ok(Server {
            child,
            addr: ([127, 0, 0, 1], port).into(),
            started_in: spawned.elapsed(),
        })
    }

    /// CPU time the server has used so far (user + system, all threads), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        cpu_from_stat(&stat)
    }

    /// Resident and peak resident memory, in MiB, from `/proc`.
    fn rss_mib(&self) -> (f64, f64) {
        let [rss, peak] = self.status_mib(["VmRSS:", "VmHWM:"]);
        (rss, peak)
    }

    /// The lines `keys` of the server's `/proc/PID/status`, in MiB.
    fn status_mib<const N: usize>(&self, keys: [&str; N]) -> [f64; N] {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        keys.map(|key| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        })
    }
}

impl Server {
    /// Stops the server (its process killed and reaped).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Measured {
    /// Per route: its stats and the server's CPU µs per request sent (warm-ups included
    /// with what they cost).
    routes: Vec<(&'static str, load::Stats, f64)>,
    rss: (f64, f64),
    /// RSS in MiB once started, before any request, and the start in ms.
    idle: (f64, f64),
}

/// A route a server is measured on.
struct Route {
    name: &'static str,
    /// The status its answers should have (any other counts as an error).
    status: u16,
    /// Whether it writes: writes are measured one server after another ([`side_by_side`]).
    writes: bool,
    make: load::RequestFn,
}

impl Route {
    fn read(name: &'static str, make: load::RequestFn) -> Self {
        Self {
            name,
            status: 200,
            writes: false,
            make,
        }
    }
}

/// The routes measured; `auth` is an extra header line sent with every request.
fn requests(ids: Arc<Vec<Uuid>>, addr: std::net::SocketAddr, auth: &str) -> Vec<Route> {
    let head = format!("Host: {addr}\r\n{auth}");
    let list_req = format!("GET {LIST} HTTP/1.1\r\n{head}\r\n").into_bytes();
    let h = head.clone();
    let get: load::RequestFn = Arc::new(move |w, n| {
        let id = ids[(w * 7919 + n as usize) % ids.len()];
        format!("GET /products/{id} HTTP/1.1\r\n{h}\r\n").into_bytes()
    });
    let h = head;
    let create: load::RequestFn = Arc::new(move |w, n| {
        let body = format!(r#"{{"name":"Bench {w}-{n}","price":{n},"status":"active"}}"#);
        format!(
            "POST /products HTTP/1.1\r\n{h}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    vec![
        Route::read("list (20 of 1000)", Arc::new(move |_, _| list_req.clone())),
        Route::read("get by id", get),
        Route {
            name: "create",
            status: 201,
            writes: true,
            make: create,
        },
    ]
}

/// The lists the query cache's servers answer: the same list again (a `HIT` on `cached`,
/// `STALE` on `stale`) and, on `cached`, a list never asked before (a `MISS`: the lookup, the
/// query and the keeping of its answer).
fn cache_requests(mode: &str, addr: std::net::SocketAddr) -> Vec<Route> {
    let same = format!("GET {LIST} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();
    let name = match mode {
        "cached" => "list, HIT",
        "tagged" => "list, HIT, ETag",
        "stale" => "list, STALE",
        _ => "list",
    };
    let mut requests = vec![Route::read(name, Arc::new(move |_, _| same.clone()))];
    if mode == "cached" {
        // Numbered across drives: a route measured in slices drives it again from `n` = 0.
        let asked = AtomicU64::new(0);
        let miss: load::RequestFn = Arc::new(move |_, _| {
            let k = asked.fetch_add(1, Ordering::Relaxed);
            format!("GET {LIST}&price[ne]={k} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes()
        });
        requests.push(Route::read("list, MISS", miss));
    }
    requests
}

/// `authorization: Bearer ..` for an admin of the seeded organization, on the secured server.
fn auth_header(mode: &str) -> Result<String> {
    if mode != "secured" {
        return Ok(String::new());
    }
    let day = Duration::from_secs(86_400);
    let token = shop::demo_token(SECRET, "bench", &[], Some("acme"), &["admin"], day)?;
    Ok(format!("authorization: Bearer {token}\r\n"))
}

/// How long each slice of a route's measured time is: the servers of a round take turns
/// at this grain, so a drift of the machine's speed falls on all of them alike.
const SLICE: Duration = Duration::from_millis(500);

/// How long each slice's new connections are driven before its time is measured.
const SLICE_WARMUP: Duration = Duration::from_millis(50);

/// How long a server is left alone after its load before the next one's starts.
const SETTLE: Duration = Duration::from_millis(100);

/// A server of a round, up: its routes, its RSS and start once started, and once its last
/// route is measured, its RSS then (and it is stopped).
struct Up {
    mode: &'static str,
    server: Server,
    requests: Vec<Route>,
    idle: (f64, f64),
    done: Option<(f64, f64)>,
}

impl Up {
    /// Notes the RSS after the last route and stops the server: what it does after its load
    /// (the secured server's relay publishing) is then not done under another's.
    fn finish(&mut self) {
        self.done = Some(self.server.rss_mib());
        self.server.stop();
    }
}

/// One round: the servers `modes` started side by side on their databases `dbs`, then each
/// route measured on all of them in turns.
///
/// - A read is warmed up on every server; then its measured `seconds` are cut into slices of
///   [`SLICE`] (each opening its connections and driving them [`SLICE_WARMUP`] before it
///   measures), each followed by [`SETTLE`]. Each pass over the servers starts one server
///   later than the last and every other pass runs backwards, so no server always follows
///   the same one. A server's figures sum its slices (its CPU counted through the settling,
///   the slices' warm-ups included as for the requests it sent).
/// - A write is measured one server after another (a warm-up, then `seconds`, then
///   [`SETTLE`]): the work writes leave behind (the log's checkpoints) would fall into the
///   next server's slices.
///
/// A server is stopped once its last route is measured.
fn side_by_side(
    rt: &tokio::runtime::Runtime,
    modes: &[&'static str],
    dbs: &[PathBuf],
    ids: &Arc<Vec<Uuid>>,
    seconds: Duration,
) -> Result<Vec<Measured>> {
    let mut servers = Vec::with_capacity(modes.len());
    for (&mode, db) in modes.iter().zip(dbs) {
        let server = Server::start(mode, db)?;
        // One read of the status: the RSS and its parts at the same moment.
        let [rss, anon, file] = server.status_mib(["VmRSS:", "RssAnon:", "RssFile:"]);
        let idle = (rss, server.started_in.as_secs_f64() * 1e3);
        eprintln!(
            "  {mode:<9} at start: RSS {:.1} MiB ({anon:.1} anonymous, {file:.1} pages of files), started in {:.0} ms",
            idle.0, idle.1
        );
        let requests = if CACHE_MODES.contains(&mode) {
            cache_requests(mode, server.addr)
        } else {
            requests(ids.clone(), server.addr, &auth_header(mode)?)
        };
        servers.push(Up {
            mode,
            server,
            requests,
            idle,
            done: None,
        });
    }
    let slices = (seconds.as_millis() / SLICE.as_millis()).max(1) as usize;
    let slice = seconds / slices as u32;
    let drive = |up: &Up, r: usize, warmup, measured| {
        let route = &up.requests[r];
        let cpu_before = up.server.cpu_seconds();
        let samples = rt.block_on(load::drive(
            up.server.addr,
            route.make.clone(),
            route.status,
            CONCURRENCY,
            warmup,
            measured,
        ));
        // What the load left to do in the background (the log's checkpoints after creates)
        // runs now, on this server's account, rather than under the next server's load.
        std::thread::sleep(SETTLE);
        (samples, up.server.cpu_seconds() - cpu_before)
    };
    let warmup = Duration::from_secs(1);
    let routes = servers.iter().map(|s| s.requests.len()).max().unwrap_or(0);
    let mut figures: Vec<Vec<(&'static str, load::Stats, f64)>> =
        servers.iter().map(|_| Vec::new()).collect();
    for r in 0..routes {
        let on: Vec<usize> = (0..servers.len())
            .filter(|&i| r < servers[i].requests.len())
            .collect();
        let mut sums: Vec<(load::Samples, f64)> =
            on.iter().map(|_| (load::Samples::default(), 0.0)).collect();
        if on.iter().any(|&i| servers[i].requests[r].writes) {
            for (j, &i) in on.iter().enumerate() {
                sums[j] = drive(&servers[i], r, warmup, seconds);
                if servers[i].requests.len() == r + 1 {
                    servers[i].finish();
                }
            }
        } else {
            for &i in &on {
                drive(&servers[i], r, warmup, Duration::ZERO);
            }
            let n = on.len();
            for pass in 0..slices {
                for k in 0..n {
                    let k = if pass % 2 == 0 { k } else { n - 1 - k };
                    let j = (k + pass) % n;
                    let (samples, cpu) = drive(&servers[on[j]], r, SLICE_WARMUP, slice);
                    sums[j].0.merge(samples);
                    sums[j].1 += cpu;
                }
            }
        }
        for (&i, (samples, cpu)) in on.iter().zip(sums) {
            let Up { mode, requests, .. } = &servers[i];
            let name = requests[r].name;
            let cpu_us = cpu * 1e6 / samples.sent().max(1) as f64;
            let stats = samples.stats();
            eprintln!(
                "  {mode:<9} {name:<18} {:>9.0} req/s  {cpu_us:>6.1} µs CPU/req  p50 {:.2} ms  p99 {:.2} ms  ({} requests, {} errors)",
                stats.per_sec,
                stats.p50_us as f64 / 1e3,
                stats.p99_us as f64 / 1e3,
                stats.requests,
                stats.errors
            );
            figures[i].push((name, stats, cpu_us));
            if servers[i].done.is_none() && servers[i].requests.len() == r + 1 {
                servers[i].finish();
            }
        }
    }
    Ok(servers
        .into_iter()
        .zip(figures)
        .map(|(up, routes)| Measured {
            routes,
            rss: up.done.unwrap_or_else(|| up.server.rss_mib()),
            idle: up.idle,
        })
        .collect())
}

/// One route's means over the rounds.
struct RouteSummary {
    name: &'static str,
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    cpu_us: f64,
    errors: u64,
}

/// Means over rounds per route; mean RSS and peak RSS; mean idle RSS and start.
struct Summary {
    routes: Vec<RouteSummary>,
    rss: (f64, f64),
    idle: (f64, f64),
}

fn summarize(runs: &[Measured]) -> Summary {
    let n = runs.len() as f64;
    let routes = (0..runs[0].routes.len())
        .map(|i| {
            let mean = |f: &dyn Fn(&(&'static str, load::Stats, f64)) -> f64| {
                runs.iter().map(|r| f(&r.routes[i])).sum::<f64>() / n
            };
            RouteSummary {
                name: runs[0].routes[i].0,
                per_sec: mean(&|r| r.1.per_sec),
                p50_us: mean(&|r| r.1.p50_us as f64),
                p99_us: mean(&|r| r.1.p99_us as f64),
                cpu_us: mean(&|r| r.2),
                errors: runs.iter().map(|r| r.routes[i].1.errors).sum(),
            }
        })
        .collect();
    let rss = (
        runs.iter().map(|r| r.rss.0).sum::<f64>() / n,
        runs.iter().map(|r| r.rss.1).fold(0.0, f64::max),
    );
    let idle = (
        runs.iter().map(|r| r.idle.0).sum::<f64>() / n,
        runs.iter().map(|r| r.idle.1).sum::<f64>() / n,
    );
    Summary { routes, rss, idle }
}

/// A table of `a` against `b`: throughput ratio a/b and CPU ratio b/a, and each one's
/// throughput ÷ the SQLite floor's on the same route.
fn print(
    title: &str,
    (a_name, a): (&str, &Summary),
    (b_name, b): (&str, &Summary),
    floor: &Summary,
) {
    println!();
    println!("{title}");
    println!();
    println!(
        "| route | {a_name} req/s | p50 | p99 | CPU/req | {b_name} req/s | p50 | p99 | CPU/req | req/s ratio | CPU ratio | {a_name} ÷ floor | {b_name} ÷ floor |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for ((ar, br), fr) in a.routes.iter().zip(&b.routes).zip(&floor.routes) {
        println!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.2}× | {:.2}× | {:.2}× | {:.2}× |",
            ar.name,
            ar.per_sec,
            ar.p50_us,
            ar.p99_us,
            ar.cpu_us,
            br.per_sec,
            br.p50_us,
            br.p99_us,
            br.cpu_us,
            ar.per_sec / br.per_sec,
            br.cpu_us / ar.cpu_us,
            ar.per_sec / fr.per_sec,
            br.per_sec / fr.per_sec
        );
        if ar.errors + br.errors > 0 {
            println!(
                "|   errors | {} | | | | {} | | | | | | | |",
                ar.errors, br.errors
            );
        }
    }
    println!();
    println!(
        "req/s ratio = {a_name} / {b_name} throughput; CPU ratio = {b_name} / {a_name} server CPU per request; ÷ floor = throughput / the SQLite floor's (axum + rusqlite inline) in the same run"
    );
}

/// The SQLite floor alone: what SQLite itself does on each route here.
fn print_floor(floor: &Summary) {
    println!();
    println!("The SQLite floor (axum + one rusqlite connection used inline, cached statements):");
    println!();
    println!("| route | req/s | p50 | p99 | CPU/req |");
    println!("|---|---:|---:|---:|---:|");
    for r in &floor.routes {
        println!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs |",
            r.name, r.per_sec, r.p50_us, r.p99_us, r.cpu_us
        );
        if r.errors > 0 {
            println!("|   errors | {} | | | |", r.errors);
        }
    }
}

/// The query cache's lists against the same JSON answered from memory by a bare handler.
fn print_cache(
    memory: &Summary,
    cached: &Summary,
    tagged: &Summary,
    stale: &Summary,
    open: &Summary,
    floor: &Summary,
) {
    println!();
    println!(
        "The query cache's list (20 of 1000) against a bare axum handler answering the same JSON from memory:"
    );
    println!();
    println!("| server | req/s | p50 | p99 | CPU/req | req/s ÷ memory | req/s ÷ floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let base = memory.routes[0].per_sec;
    let floor = floor.routes[0].per_sec;
    let rows = [
        ("memory (bare axum)", &memory.routes[0]),
        ("cached, HIT", &cached.routes[0]),
        ("cached, HIT, with its ETag", &tagged.routes[0]),
        ("stale, STALE", &stale.routes[0]),
        ("cached, MISS", &cached.routes[1]),
        ("open, no cache", &open.routes[0]),
    ];
    for (name, r) in rows {
        println!(
            "| {name} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.2}× | {:.2}× |",
            r.per_sec,
            r.p50_us,
            r.p99_us,
            r.cpu_us,
            r.per_sec / base,
            r.per_sec / floor
        );
    }
}

/// What the secured server's outbox holds after its run: every create's event, how many the
/// relay published while the server ran, at what rate, and how long each waited.
struct OutboxFigures {
    events: usize,
    published: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn outbox_figures(db_path: &Path) -> Result<OutboxFigures> {
    let db = arc_runtime::connect(&sqlite_url(db_path)).await?;
    let rows = db
        .query_all_raw(arc_runtime::sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT created_at, delivered_at FROM arc_outbox",
        ))
        .await?;
    let events = rows.len();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let mut lags = Vec::with_capacity(events);
    for row in rows {
        let written: i64 = row.try_get("", "created_at")?;
        if let Some(published) = row.try_get::<Option<i64>>("", "delivered_at")? {
            lags.push(published - written);
            first = first.min(written);
            last = last.max(published);
        }
    }
    lags.sort_unstable();
    let at = |q: f64| {
        let i = ((lags.len().max(1) - 1) as f64 * q).round() as usize;
        lags.get(i).copied().unwrap_or(0) as f64
    };
    let span = (last - first).max(1) as f64 / 1000.0;
    Ok(OutboxFigures {
        events,
        published: lags.len(),
        per_second: lags.len() as f64 / span,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    })
}

fn run(seconds: Duration, rounds: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("arc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (open_seed, shop_seed, ids) = rt.block_on(seed(&dir))?;
    let ids = Arc::new(ids);
    let pin = if Command::new("taskset").arg("--version").output().is_ok() {
        "pinned to core 0"
    } else {
        "unpinned"
    };
    eprintln!(
        "arc-bench: {ROWS} products, SQLite file, concurrency {CONCURRENCY}, {}s per route, {rounds} round(s), server {pin}",
        seconds.as_secs()
    );
    let mut runs: Vec<Vec<Measured>> = MODES.iter().map(|_| Vec::new()).collect();
    let mut outboxes = Vec::new();
    // ARC_BENCH_ONLY=floor,open measures those servers alone and prints their lines only.
    let only = std::env::var("ARC_BENCH_ONLY").ok();
    for round in 0..rounds {
        // Each round starts its servers in another order, on fresh copies of the seed.
        let order: Vec<usize> = (0..MODES.len())
            .map(|k| (k + round) % MODES.len())
            .filter(|&m| {
                only.as_deref()
                    .is_none_or(|o| o.split(',').any(|x| x == MODES[m]))
            })
            .collect();
        let modes: Vec<&'static str> = order.iter().map(|&m| MODES[m]).collect();
        let mut dbs = Vec::with_capacity(modes.len());
        for mode in &modes {
            let db = dir.join(format!("{mode}-{round}.db"));
            let seed = if *mode == "secured" {
                &shop_seed
            } else {
                &open_seed
            };
            std::fs::copy(seed, &db)?;
            dbs.push(db);
        }
        let measured = side_by_side(&rt, &modes, &dbs, &ids, seconds)?;
        for ((m, measured), db) in order.iter().zip(measured).zip(&dbs) {
            runs[*m].push(measured);
            if MODES[*m] == "secured" {
                outboxes.push(rt.block_on(outbox_figures(db))?);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if only.is_some() {
        return Ok(());
    }

    let [
        open,
        hand,
        floor,
        secured,
        production,
        memory,
        cached,
        tagged,
        stale,
    ] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(|m| summarize(&runs[m]));
    let started = [
        ("floor", &floor),
        ("open", &open),
        ("hand-written", &hand),
        ("secured", &secured),
        ("production", &production),
        ("memory", &memory),
    ]
    .map(|(name, s)| format!("{name} {:.1} MiB in {:.0} ms", s.idle.0, s.idle.1))
    .join(", ");
    print_floor(&floor);
    print(
        "The generated open resource against the hand-written one:",
        ("open", &open),
        ("hand", &hand),
        &floor,
    );
    print(
        "With authentication, permissions, tenancy and field rules on, against the open resource:",
        ("secured", &secured),
        ("open", &open),
        &floor,
    );
    print(
        "The production preset (request spans, metrics, ETags, security headers, CORS, gzip, timeout, load shedding, rate limit) against the bare open resource:",
        ("production", &production),
        ("open", &open),
        &floor,
    );
    print_cache(&memory, &cached, &tagged, &stale, &open, &floor);
    println!();
    for (round, o) in outboxes.iter().enumerate() {
        println!(
            "secured's events, round {}: {} written, {} published by the relay at {:.0} events/s; lag (published - written) p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            round + 1,
            o.events,
            o.published,
            o.per_second,
            o.p50_ms,
            o.p99_ms,
            o.max_ms
        );
    }
    println!(
        "server RSS at start, before any request (and the start, spawn to listening): {started}"
    );
    println!(
        "server RSS after a run (peak): floor {:.1} MiB ({:.1}), open {:.1} MiB ({:.1}), hand-written {:.1} MiB ({:.1}), secured {:.1} MiB ({:.1}), production {:.1} MiB ({:.1}), cached {:.1} MiB ({:.1})",
        floor.rss.0,
        floor.rss.1,
        open.rss.0,
        open.rss.1,
        hand.rss.0,
        hand.rss.1,
        secured.rss.0,
        secured.rss.1,
        production.rss.0,
        production.rss.1,
        cached.rss.0,
        cached.rss.1
    );
    Ok(())
}
