//! The `louyu` command line: each subcommand takes exactly the flags its help
//! lists, and a start-up error is one readable line without secrets.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PASSWORD: &str = "hunter2-secret";

fn louyu(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_louyu"))
        .args(arguments)
        .env_remove("LOUYU_DATABASE_URL")
        .env_remove("LOUYU_LISTEN")
        .env_remove("LOUYU_CONFIG")
        .env("LOUYU_LOG_FORMAT", "json")
        .output()
        .expect("run louyu")
}

fn help_of(subcommand: &str) -> String {
    let output = louyu(&[subcommand, "--help"]);
    assert!(output.status.success(), "louyu {subcommand} --help");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn each_subcommand_help_lists_exactly_the_flags_it_accepts() {
    let cases: [(&str, &[&str], &[&str]); 4] = [
        (
            "serve",
            &["--config", "--district", "--database-url", "--listen"],
            &["--demo", "--registry-url"],
        ),
        (
            "migrate",
            &["--config", "--database-url"],
            &["--listen", "--demo", "--registry-url"],
        ),
        (
            "import",
            &[
                "--config",
                "--district",
                "--kind",
                "--validate-only",
                "--registry-url",
            ],
            &["--listen", "--database-url", "--demo"],
        ),
        (
            "up",
            &["--config", "--district", "--demo", "--ephemeral-ports"],
            &["--listen", "--database-url", "--registry-url"],
        ),
    ];
    for (subcommand, listed, not_listed) in cases {
        let help = help_of(subcommand);
        for flag in listed {
            assert!(
                help.contains(flag),
                "louyu {subcommand} lists {flag}:\n{help}"
            );
        }
        for flag in not_listed {
            assert!(
                !help.contains(flag),
                "louyu {subcommand} does not list {flag}:\n{help}"
            );
        }
    }
    let refused = louyu(&["up", "--listen", "127.0.0.1:0"]);
    assert_eq!(refused.status.code(), Some(2), "a flag up does not take");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unexpected argument"));
}

/// Runs `louyu serve registry` against `database_url`; returns its error
/// line, checking that it failed fast, on one line, without the password.
fn start_up_error(database_url: &str) -> String {
    let started = Instant::now();
    let output = louyu(&[
        "serve",
        "registry",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        database_url,
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed within seconds"
    );
    assert!(!output.status.success(), "louyu must not start");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let everything = format!("{stderr}{}", String::from_utf8_lossy(&output.stdout));
    assert!(!everything.contains(PASSWORD), "no password: {everything}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(!stderr.contains("Caused by"), "{stderr}");
    stderr
}

#[test]
fn a_start_up_error_is_one_line_naming_the_cause_and_never_the_password() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let line = start_up_error(&format!(
        "postgres://louyu:{PASSWORD}@127.0.0.1:{closed_port}/louyu"
    ));
    assert!(line.contains(&format!("127.0.0.1:{closed_port}")), "{line}");
    assert!(line.contains("connection refused"), "{line}");

    let line = start_up_error("sqlite:");
    assert!(line.contains("names no file"), "{line}");

    let folder = tempfile::tempdir().unwrap();
    let missing = folder.path().join("mistyped");
    let line = start_up_error(&format!("sqlite://{}/registry.db", missing.display()));
    assert!(line.contains("does not exist"), "{line}");
    assert!(!missing.exists(), "the mistyped folder was not created");
}
