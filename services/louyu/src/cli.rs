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
use louyu_kit::hosting;
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
        #[arg(value_parser = Service::parser())]
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
        #[arg(value_parser = Service::parser())]
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
        #[arg(value_parser = Service::parser())]
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
        #[arg(value_parser = Service::parser())]
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

/// Every service the binary hosts. Adding a service is one entry here and
/// its `louyu_kit::hosting::Service` impl: `serve`, `migrate`, `feed` and
/// `up` treat them all the same, and `up` starts them in any order.
const SERVICES: [&dyn hosting::Service; 2] = [
    &louyu_registry::startup::Registry,
    &louyu_visits::startup::Visits,
];

/// A service named on the command line: one of [`SERVICES`].
#[derive(Clone, Copy)]
struct Service(&'static dyn hosting::Service);

impl Service {
    fn name(self) -> ServiceName {
        self.0.name()
    }

    fn parser() -> impl clap::builder::TypedValueParser<Value = Service> {
        use clap::builder::TypedValueParser;
        let names = SERVICES.map(|service| service.name().as_str());
        clap::builder::PossibleValuesParser::new(names).map(|name| {
            let service = SERVICES
                .into_iter()
                .find(|service| service.name().as_str() == name)
                .expect("clap accepts only the listed names");
            Service(service)
        })
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.name().as_str())
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
            Command::Serve { service, .. } => hosting::serve(service.0, &config).await,
            Command::Migrate { service, .. } => hosting::migrate(service.0, &config).await,
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
    let hosts = hosting::build_together(&SERVICES, &base, &shutdown).await?;
    let addresses: Vec<String> = SERVICES
        .iter()
        .zip(&hosts)
        .map(|(service, host)| format!("{}=http://{}", service.name().as_str(), host.local_addr()))
        .collect();
    let registry_address = SERVICES
        .iter()
        .zip(&hosts)
        .find(|(service, _)| service.name() == ServiceName::Registry)
        .map(|(_, host)| host.local_addr())
        .context("the suite has a registry")?;
    let running: Vec<_> = hosts
        .into_iter()
        .map(|host| tokio::spawn(host.run(readiness.clone())))
        .collect();
    if demo {
        crate::demo::load(&format!("http://{registry_address}"), &config.district)
            .await
            .context("cannot load the demo data")?;
        readiness.mark_ready();
    }
    tracing::info!(services = %addresses.join(" "), "louyu is up; Ctrl-C stops it");
    for task in running {
        task.await??;
    }
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
