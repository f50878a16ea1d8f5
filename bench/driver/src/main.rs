//! `bench-driver`: a small, bounded HTTP/1.1 load driver for the sessiond benchmark.
//!
//! - `load`: N tasks, each owning one keep-alive connection, send requests back to back
//!   (closed loop) for a warmup and then a measured period; prints one JSON line.
//! - `walk`: follows pagination links (`links.next` or `next_page`) page after page.
//! - `timed`: one request, timed.
//!
//! Everything stops by itself: loops end at their deadline, every request has a timeout.

mod client;
mod stats;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use hyper::{
    Method,
    header::{CONTENT_TYPE, COOKIE, HeaderValue},
};
use serde_json::{Value, json};

use client::{Connection, HeaderLine, Target};
use stats::Tally;

#[derive(Parser)]
#[command(about = "Closed-loop HTTP/1.1 load driver for the sessiond benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Closed-loop load over N keep-alive connections.
    Load(LoadArgs),
    /// Walk paginated listings, page after page, restarting at the first page.
    Walk(WalkArgs),
    /// Send one request and print its status and time.
    Timed(TimedArgs),
}

#[derive(Args)]
struct LoadArgs {
    #[arg(long)]
    url: Target,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured seconds (after the warmup).
    #[arg(long)]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    #[arg(long, default_value = "GET")]
    method: Method,
    /// File whose bytes are every request's body.
    #[arg(long)]
    body_file: Option<PathBuf>,
    #[arg(long)]
    content_type: Option<HeaderValue>,
    /// Extra header sent with every request, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<HeaderLine>,
    /// Tokens, one per line; each request sends `Cookie: NAME=TOKEN` with a random one.
    #[arg(long, requires = "cookie_name")]
    cookies: Option<PathBuf>,
    #[arg(long)]
    cookie_name: Option<String>,
    /// Header lines (`Name: value`), one per line; each request sends a random one.
    #[arg(long)]
    headers_file: Option<PathBuf>,
    /// Seconds before a request counts as an error and its connection is reopened.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

#[derive(Args)]
struct WalkArgs {
    /// First page.
    #[arg(long)]
    url: Target,
    #[arg(long = "header")]
    headers: Vec<HeaderLine>,
    #[arg(long)]
    duration: f64,
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Pages per walk before starting again at the first page.
    #[arg(long)]
    max_pages: Option<u64>,
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

#[derive(Args)]
struct TimedArgs {
    #[arg(long)]
    method: Method,
    #[arg(long)]
    url: Target,
    #[arg(long = "header")]
    headers: Vec<HeaderLine>,
    #[arg(long, default_value_t = 600.0)]
    timeout: f64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Load(args) => load(args).await,
        Command::Walk(args) => walk(args).await,
        Command::Timed(args) => timed(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench-driver: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Non-empty trimmed lines of a file.
fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if lines.is_empty() {
        return Err(format!("{} has no lines", path.display()));
    }
    Ok(lines)
}

fn seconds(value: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|_| format!("{what} must be a non-negative number of seconds"))
}

/// Everything a load task needs, shared read-only between tasks.
struct Plan {
    target: Target,
    method: Method,
    body: Bytes,
    /// Sent with every request.
    fixed: Vec<HeaderLine>,
    /// One of these is picked at random for each request (cookies become `Cookie` lines).
    pool: Vec<HeaderLine>,
    timeout: Duration,
}

impl Plan {
    fn from_args(args: &LoadArgs) -> Result<Plan, String> {
        let body = match &args.body_file {
            Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.into(),
            None => Bytes::new(),
        };
        let mut fixed = args.headers.clone();
        if let Some(ct) = &args.content_type {
            fixed.push(HeaderLine { name: CONTENT_TYPE, value: ct.clone() });
        }
        let mut pool = Vec::new();
        if let (Some(path), Some(name)) = (&args.cookies, &args.cookie_name) {
            for token in read_lines(path)? {
                let value = HeaderValue::from_str(&format!("{name}={token}"))
                    .map_err(|e| format!("bad cookie in {}: {e}", path.display()))?;
                pool.push(HeaderLine { name: COOKIE, value });
            }
        }
        if let Some(path) = &args.headers_file {
            for line in read_lines(path)? {
                pool.push(line.parse().map_err(|e| format!("{}: {e}", path.display()))?);
            }
        }
        let timeout = seconds(args.timeout, "--timeout")?;
        Ok(Plan { target: args.url.clone(), method: args.method.clone(), body, fixed, pool, timeout })
    }
}

/// xorshift64*: plenty for picking a random line, and needs no dependency.
struct Rng(u64);

impl Rng {
    fn seeded(stream: u64) -> Rng {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        // Mix the task number in so tasks do not share a sequence; the state must not be 0.
        Rng((nanos ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

async fn load(args: LoadArgs) -> Result<(), String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let plan = Arc::new(Plan::from_args(&args)?);
    let start = Instant::now();
    let measure_from = start + seconds(args.warmup, "--warmup")?;
    let end = measure_from + seconds(args.duration, "--duration")?;

    let tasks: Vec<_> = (0..args.connections)
        .map(|i| {
            let plan = plan.clone();
            tokio::spawn(load_task(plan, i as u64, measure_from, end))
        })
        .collect();
    let mut total = Tally::new();
    for task in tasks {
        total.merge(task.await.map_err(|e| format!("load task failed: {e}"))?);
    }
    // Requests in flight at the deadline finish after it: measure up to the last answer.
    let measured = Instant::now().max(end).saturating_duration_since(measure_from).as_secs_f64();
    println!("{}", total.to_json(measured));
    if total.ok == 0 {
        return Err("no request succeeded".into());
    }
    Ok(())
}

/// One connection's closed loop; counts only requests started after the warmup.
async fn load_task(plan: Arc<Plan>, stream: u64, measure_from: Instant, end: Instant) -> Tally {
    let mut connection = Connection::new(&plan.target, plan.timeout);
    let mut rng = Rng::seeded(stream);
    let mut tally = Tally::new();
    loop {
        let sent = Instant::now();
        if sent >= end {
            return tally;
        }
        let mut headers: Vec<&HeaderLine> = plan.fixed.iter().collect();
        if !plan.pool.is_empty() {
            headers.push(&plan.pool[rng.below(plan.pool.len())]);
        }
        let result = connection.send(&plan.method, &plan.target.path, &headers, &plan.body).await;
        let measured = sent >= measure_from;
        match result {
            Ok(answer) if measured => tally.answered(answer.status.as_u16(), sent.elapsed()),
            Ok(_) => {}
            Err(_) => {
                if measured {
                    tally.errors += 1;
                }
                // Do not spin on a refused connection: pause a little before reconnecting.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The next page's path from a listing answer: cursor pagination's `links.next` or offset
/// pagination's `next_page`. `None` at the end (null or absent). Absolute URLs are reduced to
/// their path and query: the walk stays on the connection it has.
fn next_page(body: &[u8]) -> Option<String> {
    let answer: Value = serde_json::from_slice(body).ok()?;
    let next = answer.pointer("/links/next").and_then(Value::as_str).or_else(|| answer["next_page"].as_str())?;
    if next.starts_with('/') {
        return Some(next.to_owned());
    }
    let target: Target = next.parse().ok()?;
    Some(target.path)
}

/// What one walking task counted.
struct WalkTally {
    histogram: hdrhistogram::Histogram<u64>,
    pages: u64,
    walks: u64,
    errors: u64,
    non2xx: u64,
}

async fn walk(args: WalkArgs) -> Result<(), String> {
    if args.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    let end = Instant::now() + seconds(args.duration, "--duration")?;
    let timeout = seconds(args.timeout, "--timeout")?;
    let args = Arc::new(args);
    let tasks: Vec<_> = (0..args.connections).map(|_| tokio::spawn(walk_task(args.clone(), timeout, end))).collect();
    let mut total = WalkTally { histogram: stats::new_histogram(), pages: 0, walks: 0, errors: 0, non2xx: 0 };
    for task in tasks {
        let t = task.await.map_err(|e| format!("walk task failed: {e}"))?;
        total.histogram.add(&t.histogram).map_err(|e| format!("histogram merge: {e}"))?;
        total.pages += t.pages;
        total.walks += t.walks;
        total.errors += t.errors;
        total.non2xx += t.non2xx;
    }
    let mut out = serde_json::Map::new();
    out.insert("pages".into(), json!(total.pages));
    out.insert("walks".into(), json!(total.walks));
    out.extend(stats::percentiles(&total.histogram));
    out.insert("errors".into(), json!(total.errors));
    out.insert("non2xx".into(), json!(total.non2xx));
    println!("{}", Value::Object(out));
    if total.pages == 0 {
        return Err("no page was fetched".into());
    }
    Ok(())
}

/// Walks from the first page until the last (or `--max-pages`), again and again until `end`.
/// Only 2xx pages count in `pages`; a failed page restarts the walk.
async fn walk_task(args: Arc<WalkArgs>, timeout: Duration, end: Instant) -> WalkTally {
    let mut connection = Connection::new(&args.url, timeout);
    let headers: Vec<&HeaderLine> = args.headers.iter().collect();
    let mut tally = WalkTally { histogram: stats::new_histogram(), pages: 0, walks: 0, errors: 0, non2xx: 0 };
    let mut path = args.url.path.clone();
    let mut depth = 0;
    while Instant::now() < end {
        let sent = Instant::now();
        // `Some(next)`: go on; `None`: start again at the first page.
        let next = match connection.send(&Method::GET, &path, &headers, &Bytes::new()).await {
            Ok(answer) if answer.status.is_success() => {
                stats::record(&mut tally.histogram, sent.elapsed());
                tally.pages += 1;
                depth += 1;
                let next = next_page(&answer.body).filter(|_| args.max_pages.is_none_or(|max| depth < max));
                if next.is_none() {
                    tally.walks += 1; // reached the last page (or the page limit)
                }
                next
            }
            Ok(_) => {
                tally.non2xx += 1;
                None
            }
            Err(_) => {
                tally.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                None
            }
        };
        match next {
            Some(next) => path = next,
            None => {
                path = args.url.path.clone();
                depth = 0;
            }
        }
    }
    tally
}

async fn timed(args: TimedArgs) -> Result<(), String> {
    let mut connection = Connection::new(&args.url, seconds(args.timeout, "--timeout")?);
    let headers: Vec<&HeaderLine> = args.headers.iter().collect();
    let sent = Instant::now();
    let answer =
        connection.send(&args.method, &args.url.path, &headers, &Bytes::new()).await.map_err(|e| e.to_string())?;
    let ms = sent.elapsed().as_secs_f64() * 1000.0;
    println!("{}", json!({ "status": answer.status.as_u16(), "ms": (ms * 1000.0).round() / 1000.0 }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_page_reads_cursor_links() {
        let body = br#"{"sessions":[],"meta":{"has_more":true},"links":{"prev":null,"next":"http://127.0.0.1:9/api/v2/sessions?page%5Bafter%5D=abc"}}"#;
        assert_eq!(next_page(body).as_deref(), Some("/api/v2/sessions?page%5Bafter%5D=abc"));
        let last = br#"{"sessions":[],"links":{"next":null}}"#;
        assert_eq!(next_page(last), None);
    }

    #[test]
    fn next_page_reads_offset_pages() {
        let body =
            br#"{"sessions":[],"next_page":"http://h:1/api/v2/sessions?page=2&per_page=100","previous_page":null}"#;
        assert_eq!(next_page(body).as_deref(), Some("/api/v2/sessions?page=2&per_page=100"));
        assert_eq!(next_page(br#"{"next_page":null}"#), None);
        assert_eq!(next_page(br#"{"next_page":"/x?page=3"}"#).as_deref(), Some("/x?page=3"));
        assert_eq!(next_page(b"not json"), None);
    }

    #[test]
    fn rng_stays_below_bound() {
        let mut rng = Rng::seeded(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let i = rng.below(5);
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s), "every index should come up: {seen:?}");
    }
}
