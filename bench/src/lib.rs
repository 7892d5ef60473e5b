//! Shared pieces of Parley's benchmarks: a gateway under test (the real
//! binary, as a child process), tokens, Socket.IO clients, and latency
//! histograms.
//!
//! # Layout
//! - [`Gateway`]: the `gateway` binary on a fresh SQLite file or PostgreSQL schema.
//! - [`Latency`]: an HDR histogram with the percentiles the reports print.
//! - [`token`]: an HS256 token for the gateway's secret.
//! - `bin/load.rs`: message-path throughput and latency.
//! - `bin/rejoin.rs`: `conversation:rejoin` latency on a large store.
//! - `bin/replay_bench.rs`: rebuild, export and verify on a large log.

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store::Backend;
use store::testing::TestDatabase;

pub const SECRET: &str = "bench-secret-bench-secret-bench-secret";

/// `sqlite` or `postgres` (a fresh database either way).
pub fn backend(name: &str) -> anyhow::Result<Backend> {
    match name {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" => Ok(Backend::Postgres),
        other => bail!("unknown store {other:?}: use sqlite or postgres"),
    }
}

/// The gateway binary serving on a fresh database.
pub struct Gateway {
    pub addr: SocketAddr,
    pub db: TestDatabase,
    child: Child,
}

impl Gateway {
    /// Start `target/<profile>/gateway` (built beside this tool) on `db`.
    pub fn start(db: TestDatabase, extra_env: &[(&str, String)]) -> anyhow::Result<Self> {
        let binary = gateway_binary()?;
        let mut command = Command::new(&binary);
        command
            .env("DATABASE_URL", db.url())
            .env("PARLEY_JWT_SECRET", SECRET)
            .env("PARLEY_ADDR", "127.0.0.1:0")
            // A load generator's client sends far more than a person does.
            .env("PARLEY_RATE_LIMIT_EVENTS", "1000000000")
            .env("PARLEY_USER_RATE_LIMIT_EVENTS", "1000000000")
            .env("PARLEY_KEY_RATE_LIMIT_EVENTS", "1000000000")
            .env("PARLEY_IP_RATE_LIMIT_EVENTS", "1000000000")
            // Every connection comes from this one machine.
            .env("PARLEY_MAX_CONNECTIONS_PER_IP", "1000000")
            .env("RUST_LOG", "warn,gateway::app=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stderr = child.stderr.take().context("gateway stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("serving")
                    && let Some(addr) = line.split("addr=").nth(1)
                {
                    let _ = tx.send(addr.trim().to_owned());
                } else if line.contains("WARN") || line.contains("ERROR") {
                    eprintln!("gateway: {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .context("the gateway did not start within 30 s")?
            .parse()?;
        Ok(Self { addr, db, child })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resident memory of the gateway process, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn gateway_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("no folder for this tool")?;
    let binary = dir.join("gateway");
    if !binary.exists() {
        bail!(
            "{} not found: build it beside this tool first \
             (cargo build --release -p gateway -p bench)",
            binary.display()
        );
    }
    Ok(binary)
}

/// A token for the benchmarks' gateways, valid for a day.
pub fn token(tenant: &str, user: &str, role: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + 86_400;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": user, "tenant": tenant, "role": role, "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("a token")
}

/// Latencies in microseconds, 1 µs to 60 s at 3 significant figures.
pub struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"))
    }
}

impl Latency {
    pub fn record(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.max(1));
    }

    pub fn merge(&mut self, other: &Latency) {
        let _ = self.0.add(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// `p50 1.23 ms  p99 4.56 ms  max 7.89 ms  (n)`
    pub fn summary(&self) -> String {
        let ms = |micros: u64| micros as f64 / 1000.0;
        format!(
            "p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>8.2} ms   (n = {})",
            ms(self.0.value_at_quantile(0.50)),
            ms(self.0.value_at_quantile(0.99)),
            ms(self.0.max()),
            self.0.len()
        )
    }
}

/// One line about the machine, for the record.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map(|kib| format!("{} GiB", kib / 1024 / 1024))
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), {memory}")
}

/// Seeding appends, a few in flight at a time (more would only hold
/// memory: the log writer commits them in groups anyway).
#[derive(Default)]
pub struct Seeder {
    pending: std::collections::VecDeque<
        tokio::task::JoinHandle<Result<store::AppendOutcome, store::StoreError>>,
    >,
}

impl Seeder {
    /// Queue the creation of `stream` with `events`.
    pub async fn append(
        &mut self,
        log: &store::EventLog,
        stream: String,
        events: Vec<store::NewEvent>,
    ) -> anyhow::Result<()> {
        let log = log.clone();
        self.pending.push_back(tokio::spawn(async move {
            log.append(&stream, store::ExpectedVersion::NoStream, events)
                .await
        }));
        if self.pending.len() >= 8
            && let Some(oldest) = self.pending.pop_front()
        {
            oldest.await??;
        }
        Ok(())
    }

    /// Wait for every queued append.
    pub async fn finish(self) -> anyhow::Result<()> {
        for append in self.pending {
            append.await??;
        }
        Ok(())
    }
}
