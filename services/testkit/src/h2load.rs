//! Driving a gRPC method with [h2load](https://nghttp2.org/documentation/h2load.1.html)
//! (Debian's `nghttp2-client`), for the benchmarks that compare two servers
//! in one run: the rate, the latency quantiles from h2load's per-request
//! log, and the CPU a process spent meanwhile.

use std::path::Path;
use std::process::Command;

/// Connections h2load opens.
pub const CLIENTS: usize = 8;
/// Concurrent streams per connection.
pub const STREAMS_PER_CLIENT: usize = 16;

/// Exits with status 2, saying what to install, when h2load is missing.
pub fn require() {
    if Command::new("h2load").arg("--version").output().is_err() {
        eprintln!(
            "h2load is missing: this benchmark drives the servers with it. \
             Install Debian's nghttp2-client (apt-get install -y nghttp2-client) and run it again."
        );
        std::process::exit(2);
    }
}

/// `LOUYU_BENCH_REQUESTS`, or `default`: the requests per round.
pub fn requests_per_round(default: usize) -> usize {
    std::env::var("LOUYU_BENCH_REQUESTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Writes `message` as one uncompressed gRPC frame to `file`, for `-d`.
pub fn write_request(file: &Path, message: &[u8]) {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    std::fs::write(file, frame).expect("write the request body");
}

/// One round against one server.
#[derive(Debug, Clone)]
pub struct Run {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// CPU seconds the watched process spent per request, in µs.
    pub cpu_micros_per_request: f64,
}

/// One round of h2load.
pub struct Round<'a> {
    /// `http://host:port/package.Service/Method`.
    pub url: String,
    /// The request frame ([`write_request`]).
    pub body: &'a Path,
    /// Extra headers, `name: value`.
    pub headers: Vec<String>,
    pub requests: usize,
    /// Where h2load logs each request, for the latency quantiles.
    pub log: &'a Path,
    /// The process whose CPU time counts: `"self"` or a pid.
    pub cpu_of: String,
}

impl Round<'_> {
    /// Runs h2load; panics unless every request succeeded.
    pub fn run(&self) -> Run {
        let cpu_before = cpu_seconds(&self.cpu_of);
        let mut command = Command::new("h2load");
        command
            .args(["-n", &self.requests.to_string()])
            .args(["-c", &CLIENTS.to_string()])
            .args(["-m", &STREAMS_PER_CLIENT.to_string()])
            .args(["-t", "1"])
            .args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
        for header in &self.headers {
            command.args(["-H", header]);
        }
        let output = command
            .arg("-d")
            .arg(self.body)
            .arg("--log-file")
            .arg(self.log)
            .arg(&self.url)
            .output()
            .expect("run h2load");
        let cpu_seconds = cpu_seconds(&self.cpu_of) - cpu_before;
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "h2load failed:\n{text}");
        assert!(
            text.contains(&format!("{} succeeded", self.requests)),
            "not every request succeeded:\n{text}"
        );
        // "finished in 2.01s, 99502.49 req/s, 9.68MB/s"
        let rate = text
            .lines()
            .find_map(|line| {
                let rate = line.strip_prefix("finished in ")?.split(", ").nth(1)?;
                rate.strip_suffix(" req/s")?.parse().ok()
            })
            .unwrap_or_else(|| panic!("no rate in h2load's output:\n{text}"));
        // Each line: start (µs since the epoch), status, time to the end of
        // the answer (µs).
        let mut latencies: Vec<f64> = std::fs::read_to_string(self.log)
            .expect("h2load's log")
            .lines()
            .filter_map(|line| line.split('\t').nth(2)?.trim().parse::<f64>().ok())
            .collect();
        assert!(!latencies.is_empty(), "h2load logged no request");
        latencies.sort_by(f64::total_cmp);
        let at = |quantile: f64| {
            let index = ((latencies.len() as f64 - 1.0) * quantile).round() as usize;
            latencies[index] / 1000.0
        };
        Run {
            rate,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            cpu_micros_per_request: cpu_seconds * 1e6 / self.requests as f64,
        }
    }
}

/// The round with the best rate: on a shared machine, the least disturbed.
pub fn best(runs: &[Run]) -> Run {
    runs.iter()
        .max_by(|a, b| a.rate.total_cmp(&b.rate))
        .expect("a round")
        .clone()
}

/// The round with the least CPU per request.
pub fn least_cpu(runs: &[Run]) -> f64 {
    runs.iter()
        .map(|run| run.cpu_micros_per_request)
        .min_by(f64::total_cmp)
        .expect("a round")
}

/// User and system CPU time of a process so far (`"self"` or a pid), from
/// `/proc/<pid>/stat` (fields 14 and 15, in clock ticks of 1/100 s on
/// Linux).
pub fn cpu_seconds(process: &str) -> f64 {
    const TICKS_PER_SECOND: f64 = 100.0;
    let path = format!("/proc/{process}/stat");
    let stat = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    // The command name, field 2, is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks = |index: usize| -> f64 { fields[index].parse().expect("a tick count") };
    // after_name starts at field 3: utime (14) and stime (15) are at 11, 12.
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}
