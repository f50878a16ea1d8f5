//! Running the real `sessiond` binary: one-shot subcommands and `serve` processes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_sessiond");

/// Runs `sessiond ARGS` against `db`, feeding `stdin`, and waits for it.
pub fn sessiond(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("SESSIOND_DATABASE_URL", db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sessiond");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `sessiond serve` process on a free port. Killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// Log lines printed before the "listening" line.
    pub startup: Vec<String>,
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// Starts `sessiond serve --listen 127.0.0.1:0 EXTRA…` and waits for its "listening" line.
    pub fn start(db: &str) -> Server {
        Self::start_with(db, &[])
    }

    pub fn start_with(db: &str, extra: &[&str]) -> Server {
        Self::start_with_env(db, extra, &[])
    }

    /// [`Server::start_with`] with extra environment variables.
    pub fn start_with_env(db: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .envs(env.iter().copied())
            .env("SESSIOND_DATABASE_URL", db)
            .env("NO_COLOR", "1")
            .env("SESSIOND_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            let line = rx.recv_timeout(Duration::from_secs(30)).expect("server log line");
            if line.contains("sessiond listening") {
                let v: serde_json::Value = serde_json::from_str(&line).expect("json log");
                break format!("http://{}", v["fields"]["address"].as_str().expect("address"));
            }
            lines.push(line);
            assert!(Instant::now() < deadline, "server did not start: {lines:?}");
        };
        Server { child, base, startup: lines, log: rx }
    }

    /// SIGTERM, then wait for the exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
