//! A small HTTP/1.1 keep-alive load generator over loopback: `concurrency` connections, each
//! sending its next request as soon as the last response is read, for a bounded time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Makes request `n` of worker `w`.
pub(crate) type RequestFn = std::sync::Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// What one route measured.
pub(crate) struct Stats {
    /// Requests completed in the measured time.
    pub requests: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// What one or more drives of a route saw: the latency of each request completed in their
/// measured time, merged across drives so a route measured in slices is summed up once.
#[derive(Default)]
pub(crate) struct Samples {
    latencies: Vec<u32>,
    errors: u64,
    sent: u64,
    measured: Duration,
}

impl Samples {
    /// Adds the requests of `other` (another slice of the same route on the same server).
    pub(crate) fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        self.sent += other.sent;
        self.measured += other.measured;
    }

    /// Requests sent, the drives' warm-ups included.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Throughput over the measured time, and the latencies' median and 99th percentile.
    pub(crate) fn stats(mut self) -> Stats {
        let all = &mut self.latencies;
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        Stats {
            requests: all.len() as u64,
            errors: self.errors,
            per_sec: all.len() as f64 / self.measured.as_secs_f64().max(1e-9),
            p50_us: u64::from(pct(0.50)),
            p99_us: u64::from(pct(0.99)),
        }
    }
}

/// Drives `addr` for `warmup + duration`, measuring only after the warm-up.
pub(crate) async fn drive(
    addr: std::net::SocketAddr,
    make: RequestFn,
    expect_status: u16,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> Samples {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let make = make.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(1 << 16);
            let mut errors = 0u64;
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                return (latencies, 1, 0);
            };
            let _ = stream.set_nodelay(true);
            let mut buf = Vec::with_capacity(64 * 1024);
            let mut n = 0u64;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let request = make(w, n);
                n += 1;
                if stream.write_all(&request).await.is_err() {
                    errors += 1;
                    break;
                }
                match read_response(&mut stream, &mut buf).await {
                    Some(status) => {
                        if status != expect_status {
                            errors += 1;
                        }
                        if sent >= measure_from {
                            latencies.push(sent.elapsed().as_micros() as u32);
                        }
                    }
                    None => {
                        errors += 1;
                        break;
                    }
                }
            }
            (latencies, errors, n)
        }));
    }
    let mut samples = Samples {
        measured: duration,
        ..Samples::default()
    };
    for worker in workers {
        if let Ok((lat, err, n)) = worker.await {
            samples.latencies.extend(lat);
            samples.errors += err;
            samples.sent += n;
        }
    }
    samples
}

/// Reads one response (headers + `content-length` body); the status, or `None` on a broken
/// connection.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<u16> {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let header_end = loop {
        if let Some(pos) = find(buf, b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..header_end]).ok()?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(status)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
