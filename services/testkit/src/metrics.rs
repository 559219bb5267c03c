//! The process's Prometheus metrics, read over HTTP as Prometheus reads
//! them. The recorder is process-global: a test binary that asserts exact
//! values runs its backends one after the other (no other test of the
//! binary sets the same series at the same time).

use std::net::SocketAddr;
use std::sync::LazyLock;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The process's `/metrics` endpoint (installing the recorder), served on
/// a thread of its own for as long as the process lives, whichever test's
/// runtime comes and goes.
pub fn endpoint() -> SocketAddr {
    static ENDPOINT: LazyLock<SocketAddr> = LazyLock::new(|| {
        let (bound, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the metrics endpoint");
            let (_stop, stopped) = tokio::sync::watch::channel(false);
            let (local, task) = runtime
                .block_on(louyu_kit::metrics::serve("127.0.0.1:0", stopped))
                .expect("the metrics endpoint binds");
            bound.send(local).expect("the test waits for the address");
            let _ = runtime.block_on(task);
        });
        address.recv().expect("the metrics endpoint starts")
    });
    *ENDPOINT
}

/// `GET /metrics` from [`endpoint`]: the text a scrape gets.
pub async fn scrape() -> String {
    let mut stream = tokio::net::TcpStream::connect(endpoint())
        .await
        .expect("the metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: louyu\r\nconnection: close\r\n\r\n")
        .await
        .expect("the request is sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("the response is read");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase().contains("content-type: text/plain"),
        "{head}"
    );
    // The body may be chunked; the samples are whole lines either way.
    body.to_owned()
}

/// The value of the one series of `name` whose labels are exactly
/// `labels` (in any order, values without commas); `None` when there is
/// no such series.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut wanted: Vec<String> = labels
        .iter()
        .map(|(label, value)| format!("{label}=\"{value}\""))
        .collect();
    wanted.sort();
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix('{')?;
        let (inside, number) = rest.rsplit_once("} ")?;
        let mut found: Vec<String> = inside.split(',').map(str::to_owned).collect();
        found.sort();
        (found == wanted).then(|| number.trim().parse().ok())?
    })
}

/// Waits until a scrape reads, for each `(value, count)` of `expected`, the
/// series of `name` labelled `service` and `label="value"` at exactly
/// `count`.
pub async fn eventually_reads(name: &str, service: &str, label: &str, expected: &[(&str, f64)]) {
    crate::eventually(&format!("{name} reads {expected:?}"), || async {
        let text = scrape().await;
        expected.iter().all(|(labelled, count)| {
            value(&text, name, &[("service", service), (label, labelled)]) == Some(*count)
        })
    })
    .await;
}
