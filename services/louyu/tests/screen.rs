//! The live screen in a real browser: `louyu up --demo` on a fresh folder,
//! headless Chromium driven over WebDriver (chromedriver, from Debian's
//! packages), a visit with an office-space demand submitted through the
//! gateway's REST API, and the demand and the enterprise's new colour seen
//! on the screen within 15 s. Screenshots (zh and en, wide and phone) go to
//! docs/screenshots/.
//!
//! Skips, saying so, when Chromium or chromedriver is not installed and `CI`
//! is not `true`; fails when `CI=true` and either is missing.
//!
//! The WebDriver client is a few lines of HTTP/1.1 over a `TcpStream`
//! (`Connection: close`), so the test needs no WebDriver crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value as Json, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DISTRICT: &str = "districts/jingan";
/// The first enterprise of the generated demo district, a tenant of `b-01`,
/// and the field worker who visits it (services/louyu/src/demo/district.rs).
const DEMO_ENTERPRISE: &str = "91310106MA1003FYBW";
const DEMO_BUILDING: &str = "districts/jingan/buildings/b-01";
const DEMO_STAFF: &str = "districts/jingan/staff/teacher-1";
/// The demo district loads in well under a minute in release; a debug build
/// on a busy CI machine gets more room.
const STARTUP: Duration = Duration::from_secs(600);
const ON_SCREEN: Duration = Duration::from_secs(15);

/// One HTTP/1.1 exchange: the status and the JSON answer (Null if none).
fn http(method: &str, url: &str, body: Option<&Json>, token: Option<&str>) -> (u16, Json) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let body = body.map(Json::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(host).unwrap_or_else(|error| panic!("{url}: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream.write_all(request.as_bytes()).unwrap();
    // Read the head, then the body by its length (chromedriver may keep
    // the connection open), chunked, or to the end.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16384];
    let split = loop {
        if let Some(split) = answer.windows(4).position(|window| window == b"\r\n\r\n") {
            break split;
        }
        let read = stream.read(&mut buffer).expect("an HTTP answer");
        assert!(
            read > 0,
            "{url}: the connection closed before the answer's head"
        );
        answer.extend_from_slice(&buffer[..read]);
    };
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status");
    let length = head.lines().find_map(|line| {
        line.strip_prefix("content-length:")
            .and_then(|value| value.trim().parse::<usize>().ok())
    });
    let mut payload = answer[split + 4..].to_vec();
    match length {
        Some(length) => {
            while payload.len() < length {
                let read = stream.read(&mut buffer).expect("the answer's body");
                assert!(read > 0, "{url}: the body broke off");
                payload.extend_from_slice(&buffer[..read]);
            }
        }
        None => {
            stream.read_to_end(&mut payload).unwrap();
            if head.contains("transfer-encoding: chunked") {
                payload = dechunk(&payload);
            }
        }
    }
    let json = serde_json::from_slice(&payload).unwrap_or(Json::Null);
    (status, json)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|window| window == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&body[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// A WebDriver session of chromedriver at `base`.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    fn start(profile: &Path) -> Browser {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < STARTUP, "chromedriver listens");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1920,1080",
            "--lang=zh-CN",
        ];
        let mut args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let (status, answer) = http(
            "POST",
            &format!("{base}/session"),
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
            }}})),
            None,
        );
        assert_eq!(status, 200, "a browser session: {answer}");
        let session = answer["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Browser {
            driver,
            base,
            session,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Json>) -> Json {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let (status, answer) = http(method, &url, body.as_ref(), None);
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    fn go(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    /// Runs `script` (a function body) in the page; its return value.
    fn run(&self, script: &str) -> Json {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    fn resize(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    fn screenshot(&self, file: &Path) {
        let png = self.command("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        std::fs::write(file, bytes).unwrap();
    }

    /// Waits until `script` returns true, up to `deadline`.
    fn wait_for(&self, what: &str, script: &str, deadline: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.run(script) == json!(true) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < deadline,
                "{what} within {deadline:?}; the page says: {}",
                self.run("return document.getElementById('notice').textContent")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = std::panic::catch_unwind(|| http("DELETE", &url, None, None));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `louyu up --demo` in `folder`: the process, the gateway's URL and the
/// district admin's ready token.
struct Louyu {
    child: Child,
    gateway: String,
    admin_token: String,
}

impl Louyu {
    fn start(folder: &Path) -> Louyu {
        let mut child = Command::new(env!("CARGO_BIN_EXE_louyu"))
            .args(["up", "--demo", "--ephemeral-ports"])
            .current_dir(folder)
            .env("LOUYU_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("LOUYU_DATABASE_URL")
            .env_remove("LOUYU_LISTEN")
            .env_remove("LOUYU_CONFIG")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start louyu");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut admin_token = String::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Ok(entry) = serde_json::from_str::<Json>(&line) else {
                    if let Some(token) = line.trim_start().strip_prefix("district-admin (")
                        && let Some((_, token)) = token.split_once("): ")
                    {
                        admin_token = token.trim().to_owned();
                    }
                    continue;
                };
                if entry["message"]
                    .as_str()
                    .is_some_and(|message| message.starts_with("louyu is up"))
                {
                    let gateway = entry["services"]
                        .as_str()
                        .unwrap_or_default()
                        .split(' ')
                        .find_map(|pair| pair.strip_prefix("gateway="))
                        .unwrap_or_default()
                        .to_owned();
                    let _ = sender.send((gateway, admin_token.clone()));
                }
            }
        });
        let (gateway, admin_token) = receiver.recv_timeout(STARTUP).expect("louyu comes up");
        assert!(
            gateway.starts_with("http://"),
            "the gateway's URL: {gateway}"
        );
        assert!(!admin_token.is_empty(), "a district admin's token");
        Louyu {
            child,
            gateway,
            admin_token,
        }
    }
}

impl Drop for Louyu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn screenshots_folder() -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

#[test]
fn the_screen_shows_a_new_demand_and_the_enterprises_new_colour_within_15_seconds() {
    let installed = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !installed {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true and {CHROMIUM} or {CHROMEDRIVER} is missing: \
             `apt-get install -y chromium chromium-driver` (.ci/run does)"
        );
        eprintln!(
            "skipped: the live screen's browser test needs {CHROMIUM} and {CHROMEDRIVER} \
             (`apt-get install -y chromium chromium-driver`)"
        );
        return;
    }
    let folder = tempfile::tempdir().unwrap();
    let louyu = Louyu::start(folder.path());
    let token = &louyu.admin_token;
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::start(profile.path());

    // Log in. Until the gateway's login page is on main, the screen takes
    // the printed district admin's token in its URL fragment (never sent to
    // the server; kept in sessionStorage), as docs/screen.md says.
    let (session_status, _) = http("GET", &format!("{}/session", louyu.gateway), None, None);
    eprintln!("GET /session without a cookie: {session_status}");
    browser.go(&format!("{}/?district=jingan#token={token}", louyu.gateway));
    browser.wait_for(
        "the screen loads the demo district",
        "return document.getElementById('kpi-buildings').textContent !== '–' \
         && document.querySelectorAll('#chart-map canvas').length > 0",
        Duration::from_secs(30),
    );

    // A visit to the demo enterprise with an office-space demand, and a
    // decided relocation, which makes it at least orange.
    let enterprise = format!("{DISTRICT}/enterprises/{DEMO_ENTERPRISE}");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (status, submitted) = http(
        "POST",
        &format!("{}/v1/{DISTRICT}/visits", louyu.gateway),
        Some(&json!({
            "visit": {
                "building": DEMO_BUILDING,
                "staff": [DEMO_STAFF],
                "visitTime": now,
                "kind": "VISIT_KIND_ROUTINE",
                "observations": [{
                    "enterprise": enterprise,
                    "relocationIntent": "RELOCATION_INTENT_DECIDED",
                    "relocationDestination": "浦东新区",
                    "satisfaction": 2,
                }],
            },
            "demands": [{
                "enterprise": enterprise,
                "category": "DEMAND_CATEGORY_OFFICE_SPACE",
                "description": "需要增加200平方米办公面积（浏览器测试）",
                "urgency": "URGENCY_HIGH",
            }],
            "requestId": "screen-browser-test-visit-1",
        })),
        Some(token),
    );
    assert_eq!(status, 200, "the visit is recorded: {submitted}");
    let demand = submitted["demands"][0]["name"]
        .as_str()
        .expect("the new demand")
        .to_owned();

    let demand_seen = browser.wait_for(
        "the new demand on the screen",
        &format!("return !!document.querySelector('#list-demands li[data-name=\"{demand}\"]')"),
        ON_SCREEN,
    );
    let colour_seen = browser.wait_for(
        "the enterprise's colour change on the screen",
        &format!(
            "return [...document.querySelectorAll('#list-changed li')].some(li => \
             li.dataset.enterprise === '{enterprise}' && ['ORANGE', 'RED'].includes(li.dataset.colour))"
        ),
        ON_SCREEN,
    );
    eprintln!("on the screen after the visit: demand {demand_seen:?}, colour {colour_seen:?}");

    // Screenshots: Chinese first, then English (the switch is kept in
    // localStorage), wide and phone.
    let folder_out = screenshots_folder();
    let language_is = |english: bool| {
        format!(
            "return document.documentElement.lang === '{}'",
            if english { "en" } else { "zh-CN" }
        )
    };
    std::thread::sleep(Duration::from_millis(800));
    browser.screenshot(&folder_out.join("screen-zh-wide.png"));
    browser.run("document.getElementById('lang').click(); return true");
    browser.wait_for("English", &language_is(true), Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    browser.screenshot(&folder_out.join("screen-en-wide.png"));
    browser.resize(412, 915);
    std::thread::sleep(Duration::from_millis(800));
    browser.run("window.dispatchEvent(new Event('resize')); return true");
    std::thread::sleep(Duration::from_millis(500));
    browser.screenshot(&folder_out.join("screen-en-phone.png"));
    browser.run("document.getElementById('lang').click(); return true");
    browser.wait_for("Chinese", &language_is(false), Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(800));
    browser.screenshot(&folder_out.join("screen-zh-phone.png"));

    // A building opened shows its council, lists and enterprises.
    browser.resize(1920, 1080);
    browser.run(&format!(
        "document.dispatchEvent(new CustomEvent('louyu:open-building', {{detail: '{DEMO_BUILDING}'}})); return true"
    ));
    browser.wait_for(
        "the building's enterprises and their colours",
        &format!(
            "return !!document.querySelector('#building-enterprises li.enterprise .chip') \
             && document.getElementById('building').dataset.building === '{DEMO_BUILDING}'"
        ),
        ON_SCREEN,
    );
    std::thread::sleep(Duration::from_millis(500));
    browser.screenshot(&folder_out.join("screen-zh-building.png"));
}
