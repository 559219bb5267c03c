//! `louyu`: one binary, a subcommand per job, so one container image serves
//! every Deployment.

mod cli;
mod demo;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let config = cli.config()?;
    let _telemetry = louyu_kit::telemetry::init(
        cli.service_label(),
        config.log_format,
        config.otlp_endpoint.as_deref(),
    )?;
    cli.run(config).await
}
