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
    let _telemetry = louyu_kit::telemetry::init(
        cli.service_label(),
        config.log_format,
        config.otlp_endpoint.as_deref(),
    )?;
    cli.run(config).await
}
