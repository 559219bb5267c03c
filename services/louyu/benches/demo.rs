//! `louyu up --demo` on a fresh folder: how long until it is up with the
//! whole demo district loaded, and how much memory it holds once idle
//! (the trickle off). Prints the figures; not a timed test. Run it in
//! release, on a quiet machine:
//!
//! ```sh
//! cargo bench -p louyu --bench demo
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args([
            "up",
            "--demo",
            "--ephemeral-ports",
            "--demo-trickle-seconds",
            "0",
        ])
        .current_dir(folder.path())
        .env("LOUYU_LOG_FORMAT", "json")
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .env_remove("LOUYU_DATA_DIR")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start louyu");
    let stdout = child.stdout.take().expect("stdout");
    let mut loaded_line = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if line.starts_with("demo district loaded in") {
            loaded_line = line.clone();
        }
        if line.contains("louyu is up") {
            break;
        }
    }
    let up_after = started.elapsed();
    // Idle: the feeds have caught up, nothing else arrives.
    std::thread::sleep(Duration::from_secs(10));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("the process's status (Linux)");
    let rss_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    println!("{loaded_line}");
    println!(
        "up with the demo district after {:.1} s",
        up_after.as_secs_f64()
    );
    println!("idle resident memory: {:.1} MB", rss_kib as f64 / 1024.0);
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
