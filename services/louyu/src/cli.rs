//! The command line. Each subcommand takes only the flags it uses, and every
//! setting flag has a `LOUYU_*` environment twin; flags win over the
//! environment, which wins over the config file, which wins over the
//! defaults.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::db::Db;
use louyu_kit::feed;
use louyu_kit::server::{Readiness, Shutdown};
use louyu_proto::registry::v1::ImportKind;
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use secrecy::SecretString;

#[derive(Debug, Parser)]
#[command(
    name = "louyu",
    version,
    about = "楼宇 Louyu: the district's office buildings and the enterprises in them"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What every subcommand reads its settings from.
#[derive(Debug, Args)]
struct Settings {
    /// TOML config file.
    #[arg(long, env = "LOUYU_CONFIG")]
    config: Option<PathBuf>,
    /// The district this deployment serves, e.g. `jingan`.
    #[arg(long, env = "LOUYU_DISTRICT")]
    district: Option<String>,
}

/// The database of the one service a subcommand works on.
#[derive(Debug, Args)]
struct Database {
    /// Database URL: `sqlite://data/registry.db` or `postgres://…`.
    #[arg(long, env = "LOUYU_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

// Each subcommand takes only the flags it uses, so its help lists exactly
// what it accepts.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve one service.
    Serve {
        service: Service,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        database: Database,
        /// Address to listen on, e.g. `0.0.0.0:50051`.
        #[arg(long, env = "LOUYU_LISTEN")]
        listen: Option<String>,
    },
    /// Apply a service's database migrations and exit.
    Migrate {
        service: Service,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        database: Database,
    },
    /// Load a CSV file into the registry (see docs/import.md).
    Import {
        #[command(flatten)]
        settings: Settings,
        /// What the file holds.
        #[arg(long, value_enum)]
        kind: ImportFileKind,
        /// Check every row, apply nothing.
        #[arg(long)]
        validate_only: bool,
        /// The registry to load into.
        #[arg(long, env = "LOUYU_REGISTRY_URL")]
        registry_url: Option<String>,
        /// The CSV file (UTF-8, with a header row).
        file: PathBuf,
    },
    /// Event feeds after a database restore (see "After a restore" in
    /// docs/architecture.md).
    Feed {
        #[command(subcommand)]
        action: FeedAction,
    },
    /// Run the whole suite in one process on embedded SQLite under ./data.
    Up {
        #[command(flatten)]
        settings: Settings,
        /// Load demo data into an empty registry.
        #[arg(long)]
        demo: bool,
        /// Let every service take any free port instead of its fixed one; the
        /// "louyu is up" log line says where each listens (for tests).
        #[arg(long)]
        ephemeral_ports: bool,
    },
}

#[derive(Debug, Subcommand)]
enum FeedAction {
    /// Start a new epoch of a service's feed, after restoring its database
    /// from a backup: every consumer of the feed then halts instead of
    /// skipping events.
    NewEpoch {
        /// The service whose database was restored.
        service: Service,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        database: Database,
    },
    /// Resume a halted consumer from the start of the feed it follows; it
    /// applies the whole feed again, which changes nothing it had applied.
    Resume {
        /// The service that consumes the feed, e.g. `visits`.
        service: Service,
        /// The feed it follows, e.g. `registry`.
        feed: String,
        #[command(flatten)]
        settings: Settings,
        #[command(flatten)]
        database: Database,
    },
}

impl FeedAction {
    fn service(&self) -> Service {
        match self {
            FeedAction::NewEpoch { service, .. } | FeedAction::Resume { service, .. } => *service,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Service {
    Registry,
    Visits,
}

impl Service {
    fn name(self) -> ServiceName {
        match self {
            Service::Registry => ServiceName::Registry,
            Service::Visits => ServiceName::Visits,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImportFileKind {
    Buildings,
    Units,
    Enterprises,
    Tenancies,
}

impl Cli {
    /// Defaults, the config file, the environment, then the flags.
    pub fn config(&self) -> anyhow::Result<Config> {
        let (settings, database, listen) = match &self.command {
            Command::Serve {
                settings,
                database,
                listen,
                ..
            } => (settings, Some(database), listen.as_ref()),
            Command::Migrate {
                settings, database, ..
            }
            | Command::Feed {
                action:
                    FeedAction::NewEpoch {
                        settings, database, ..
                    }
                    | FeedAction::Resume {
                        settings, database, ..
                    },
            } => (settings, Some(database), None),
            Command::Import { settings, .. } | Command::Up { settings, .. } => {
                (settings, None, None)
            }
        };
        let mut config = Config::load(settings.config.as_deref())?;
        if let Some(district) = &settings.district {
            config.district = district.clone();
        }
        if let Some(url) = database.and_then(|database| database.database_url.as_ref()) {
            config.database_url = Some(SecretString::from(url.clone()));
        }
        if let Some(listen) = listen {
            config.listen = Some(listen.clone());
        }
        config.validate()?;
        Ok(config)
    }

    /// The name telemetry reports this process under.
    pub fn service_label(&self) -> &'static str {
        match &self.command {
            Command::Serve { service, .. } | Command::Migrate { service, .. } => {
                service.name().as_str()
            }
            Command::Feed { action } => action.service().name().as_str(),
            Command::Import { .. } => "import",
            Command::Up { .. } => "suite",
        }
    }

    pub async fn run(self, config: Config) -> anyhow::Result<()> {
        match self.command {
            Command::Serve { service, .. } => serve(service, &config).await,
            Command::Migrate { service, .. } => match service {
                Service::Registry => louyu_registry::startup::migrate(&config).await,
                Service::Visits => louyu_visits::startup::migrate(&config).await,
            },
            Command::Feed { action } => feed(action, &config).await,
            Command::Import {
                kind,
                validate_only,
                registry_url,
                file,
                ..
            } => {
                let url = registry_url.unwrap_or(config.registry_url.clone());
                import(&config, &url, kind, validate_only, &file).await
            }
            Command::Up {
                demo,
                ephemeral_ports,
                ..
            } => up(&config, demo, ephemeral_ports).await,
        }
    }
}

async fn feed(action: FeedAction, config: &Config) -> anyhow::Result<()> {
    let service_name = action.service().name();
    let service = service_name.as_str();
    let db = Db::connect(&config.database_url(service_name)).await?;
    let outcome = match action {
        FeedAction::NewEpoch { .. } => {
            let epoch = feed::renew_epoch(&db)
                .await
                .with_context(|| format!("cannot start a new epoch of the {service} feed"))?;
            println!(
                "the {service} feed is now in epoch {epoch}; each consumer halts at its next read: \
                 resume it with `louyu feed resume <service> {service}`"
            );
            Ok(())
        }
        FeedAction::Resume { feed: name, .. } => {
            let resumed = feed::resume_from_start(&db, &name)
                .await
                .with_context(|| format!("cannot resume the {service} consumer of {name}"))?;
            if resumed {
                println!(
                    "the {service} consumer of the {name} feed reads it again from the start; \
                     a running {service} picks this up within ten seconds"
                );
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "the {service} consumer of the {name} feed is not halted: nothing to resume"
                ))
            }
        }
    };
    db.close().await;
    outcome
}

async fn serve(service: Service, config: &Config) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signal();
    match service {
        Service::Registry => {
            let application =
                louyu_registry::startup::Application::build(config, &shutdown).await?;
            application.run_until_stopped(shutdown).await
        }
        Service::Visits => {
            let application = louyu_visits::startup::Application::build(config, &shutdown).await?;
            application.run_until_stopped(shutdown).await
        }
    }
}

/// Every service in one process, each on its own port and database file.
async fn up(config: &Config, demo: bool, ephemeral_ports: bool) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.listen.is_none() && config.database_url.is_none(),
        "`louyu up` gives each service its own port and database; use `louyu serve` to set them"
    );
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signal();
    let mut base = config.clone();
    if ephemeral_ports {
        base.listen = Some("127.0.0.1:0".to_owned());
    }
    // No load balancer stands in front of a local run: Ctrl-C stops at once.
    base.drain_delay = std::time::Duration::ZERO;
    // With demo data, health stays NOT_SERVING until it is loaded: the
    // services answer from the start (the demo loads through the registry's
    // API), but what they advertise is there only then.
    let readiness = if demo {
        Readiness::pending()
    } else {
        Readiness::ready()
    };
    let registry = louyu_registry::startup::Application::build(&base, &shutdown).await?;
    let registry_url = format!("http://{}", registry.local_addr());
    let registry_task =
        tokio::spawn(registry.run_until_stopped_once_ready(shutdown.clone(), readiness.clone()));
    // Each service reaches the others at the addresses they actually bound.
    let mut wired = base.clone();
    wired.registry_url = registry_url.clone();
    let visits = louyu_visits::startup::Application::build(&wired, &shutdown).await?;
    let visits_url = format!("http://{}", visits.local_addr());
    let visits_task =
        tokio::spawn(visits.run_until_stopped_once_ready(shutdown.clone(), readiness.clone()));
    if demo {
        crate::demo::load(&registry_url, &config.district)
            .await
            .context("cannot load the demo data")?;
        readiness.mark_ready();
    }
    tracing::info!(registry = %registry_url, visits = %visits_url, "louyu is up; Ctrl-C stops it");
    let (registry_result, visits_result) = tokio::join!(registry_task, visits_task);
    registry_result??;
    visits_result??;
    Ok(())
}

async fn import(
    config: &Config,
    registry_url: &str,
    kind: ImportFileKind,
    validate_only: bool,
    file: &std::path::Path,
) -> anyhow::Result<()> {
    let csv = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut client = RegistryServiceClient::connect(registry_url.to_owned())
        .await
        .with_context(|| format!("cannot reach the registry at {registry_url}"))?
        .max_encoding_message_size(32 * 1024 * 1024);
    let kind = match kind {
        ImportFileKind::Buildings => ImportKind::Buildings,
        ImportFileKind::Units => ImportKind::Units,
        ImportFileKind::Enterprises => ImportKind::Enterprises,
        ImportFileKind::Tenancies => ImportKind::Tenancies,
    };
    let response = client
        .import_records(louyu_proto::registry::v1::ImportRecordsRequest {
            parent: format!("districts/{}", config.district),
            kind: kind as i32,
            csv,
            validate_only,
        })
        .await
        .map_err(|status| anyhow::anyhow!("the registry refused the import: {}", status.message()))?
        .into_inner();
    for error in &response.errors {
        println!("line {} [{}]: {}", error.line, error.field, error.message);
    }
    let verb = if validate_only {
        "would apply"
    } else {
        "applied"
    };
    println!(
        "{} rows read, {verb} {}, rejected {}",
        response.total_rows,
        response.applied_rows,
        response.total_rows - response.applied_rows
    );
    anyhow::ensure!(response.errors.is_empty(), "some rows were rejected");
    Ok(())
}
