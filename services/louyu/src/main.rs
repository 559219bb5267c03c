//! `louyu`: one binary, a subcommand per job, so one container image serves
//! every Deployment.

mod cli;
mod demo;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line a person can read: the error and its causes, each
            // once. Errors never carry a secret (the database password).
            let error: &(dyn std::error::Error + 'static) = error.as_ref();
            eprintln!("错误 error: {}", louyu_kit::error::ErrorChain(error));
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let config = cli.config()?;
    let _telemetry = louyu_kit::telemetry::init_to(
        cli.service_label(),
        config.log_format,
        config.otlp_endpoint.as_deref(),
        cli.log_file(),
    )?;
    if !config.dev_clock_offset.is_zero() {
        louyu_kit::time::shift_clock(config.dev_clock_offset);
        tracing::warn!(
            offset = %config.dev_clock_offset,
            "the clock is shifted (LOUYU_DEV_CLOCK_OFFSET): for development and trials only"
        );
    }
    cli.run(config).await
}
