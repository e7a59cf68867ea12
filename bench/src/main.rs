//! `cargo run --release -p arc-bench [-- SECONDS [ROUNDS]]`: the shop's product resource as
//! generated against the same resource hand-written in axum + sea-orm, on copies of one seeded
//! SQLite file.
//!
//! Each server runs in a child process (this binary, `serve` mode) on a single-threaded
//! runtime pinned to core 0 (when `taskset` exists); the load generator runs here on the other
//! core: 32 keep-alive connections per route, a 1 s warm-up, then SECONDS (default 5) measured.
//! ROUNDS (default 2) alternate which server goes first, each on a fresh copy of the seed, so
//! neither gains from running second; figures are means over the rounds. Prints req/s, p50 and
//! p99 per route, the generated/hand-written ratio, and each server's RSS.

mod hand;
mod load;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arc_runtime::chrono::{Duration as Age, Utc};
use arc_runtime::sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use arc_runtime::uuid::Uuid;
use shop::product_entity as product;

const ROWS: usize = 1000;
const CONCURRENCY: usize = 32;
/// `sysconf(_SC_CLK_TCK)` on Linux.
const CLOCK_TICKS: f64 = 100.0;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(&args[2], Path::new(&args[3])),
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
        let db = arc_runtime::db::connect(&sqlite_url(db_path)).await?;
        let router = match mode {
            "generated" => arc_runtime::App::new(db)
                .resource::<shop::Product>()
                .cursor_secret(b"bench")
                .into_router(),
            _ => hand::router(db),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        axum::serve(listener, router).await?;
        Ok(())
    })
}

/// One seeded database file, copied for each server so both start from the same rows.
async fn seed(dir: &Path) -> Result<(PathBuf, Vec<Uuid>)> {
    let path = dir.join("seed.db");
    let db = arc_runtime::db::connect(&sqlite_url(&path)).await?;
    arc_runtime::App::new(db.clone())
        .resource::<shop::Product>()
        .migrate()
        .await?;
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..ROWS).map(|_| Uuid::new_v4()).collect();
    let rows = ids.iter().enumerate().map(|(n, id)| product::ActiveModel {
        id: Set(*id),
        org_id: Set(Some("acme".into())),
        name: Set(format!("Product {n}")),
        slug: Set(Some(format!("product-{n}"))),
        price: Set(100 + n as i64),
        status: Set("active".into()),
        category_id: Set(None),
        cost: Set(Some(50)),
        internal_note: Set(Some("seeded".into())),
        is_featured: Set(n % 10 == 0),
        created_by: Set(None),
        deleted_at: Set(None),
        created_at: Set(now - Age::seconds(n as i64)),
        updated_at: Set(now),
    });
    for chunk in rows.collect::<Vec<_>>().chunks(200) {
        product::Entity::insert_many(chunk.to_vec())
            .exec(&db)
            .await?;
    }
    db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await?;
    db.close().await?;
    Ok((path, ids))
}

struct Server {
    child: Child,
    addr: std::net::SocketAddr,
}

impl Server {
    fn start(mode: &str, db: &Path) -> Result<Server> {
        let exe = std::env::current_exe()?;
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
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
        })
    }

    /// CPU time the server has used so far (user + system, all threads), in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
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

    /// Resident and peak resident memory, in MiB, from `/proc`.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Measured {
    /// Per route: its stats and the server's CPU µs per request over the whole run.
    routes: Vec<(&'static str, load::Stats, f64)>,
    rss: (f64, f64),
}

fn requests(
    ids: Arc<Vec<Uuid>>,
    addr: std::net::SocketAddr,
) -> Vec<(&'static str, u16, load::RequestFn)> {
    let host = format!("Host: {addr}\r\n");
    let list_req = format!("GET /products?limit=20 HTTP/1.1\r\n{host}\r\n").into_bytes();
    let h = host.clone();
    let get: load::RequestFn = Arc::new(move |w, n| {
        let id = ids[(w * 7919 + n as usize) % ids.len()];
        format!("GET /products/{id} HTTP/1.1\r\n{h}\r\n").into_bytes()
    });
    let h = host;
    let create: load::RequestFn = Arc::new(move |w, n| {
        let body = format!(r#"{{"name":"Bench {w}-{n}","price":{n},"status":"active"}}"#);
        format!(
            "POST /products HTTP/1.1\r\n{h}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    });
    vec![
        (
            "list (20 of 1000)",
            200,
            Arc::new(move |_, _| list_req.clone()),
        ),
        ("get by id", 200, get),
        ("create", 201, create),
    ]
}

fn measure(
    rt: &tokio::runtime::Runtime,
    mode: &str,
    db: &Path,
    ids: &Arc<Vec<Uuid>>,
    seconds: Duration,
) -> Result<Measured> {
    let server = Server::start(mode, db)?;
    let mut routes = Vec::new();
    for (name, status, make) in requests(ids.clone(), server.addr) {
        let cpu_before = server.cpu_seconds();
        let stats = rt.block_on(load::drive(
            server.addr,
            make,
            status,
            CONCURRENCY,
            Duration::from_secs(1),
            seconds,
        ));
        let cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / stats.all_requests.max(1) as f64;
        eprintln!(
            "  {mode:<9} {name:<18} {:>9.0} req/s  {cpu_us:>6.1} µs CPU/req  ({} requests, {} errors)",
            stats.per_sec, stats.requests, stats.errors
        );
        routes.push((name, stats, cpu_us));
    }
    let rss = server.rss_mib();
    Ok(Measured { routes, rss })
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

/// Means over rounds per route; mean RSS and peak RSS.
struct Summary {
    routes: Vec<RouteSummary>,
    rss: (f64, f64),
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
    Summary { routes, rss }
}

fn print(g: &Summary, h: &Summary) {
    println!();
    println!(
        "| route | generated req/s | p50 | p99 | CPU/req | hand-written req/s | p50 | p99 | CPU/req | req/s ratio | CPU ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (gr, hr) in g.routes.iter().zip(&h.routes) {
        println!(
            "| {} | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.2}× | {:.2}× |",
            gr.name,
            gr.per_sec,
            gr.p50_us,
            gr.p99_us,
            gr.cpu_us,
            hr.per_sec,
            hr.p50_us,
            hr.p99_us,
            hr.cpu_us,
            gr.per_sec / hr.per_sec,
            hr.cpu_us / gr.cpu_us
        );
        if gr.errors + hr.errors > 0 {
            println!(
                "|   errors | {} | | | | {} | | | | | |",
                gr.errors, hr.errors
            );
        }
    }
    println!();
    println!(
        "req/s ratio = generated / hand-written throughput; CPU ratio = hand-written / generated server CPU per request"
    );
    println!(
        "server RSS after a run (peak): generated {:.1} MiB ({:.1}), hand-written {:.1} MiB ({:.1})",
        g.rss.0, g.rss.1, h.rss.0, h.rss.1
    );
}

fn run(seconds: Duration, rounds: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("arc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (seed_path, ids) = rt.block_on(seed(&dir))?;
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
    let (mut generated, mut hand) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            ["generated", "hand"]
        } else {
            ["hand", "generated"]
        };
        for mode in order {
            let db = dir.join(format!("{mode}-{round}.db"));
            std::fs::copy(&seed_path, &db)?;
            let measured = measure(&rt, mode, &db, &ids, seconds)?;
            if mode == "generated" {
                generated.push(measured)
            } else {
                hand.push(measured)
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);

    print(&summarize(&generated), &summarize(&hand));
    Ok(())
}
