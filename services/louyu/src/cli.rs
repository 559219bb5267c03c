//! The command line. Each subcommand takes only the flags it uses, and every
//! setting flag has a `LOUYU_*` environment twin; flags win over the
//! environment, which wins over the config file, which wins over the
//! defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use louyu_kit::config::{Config, ServiceName};
use louyu_kit::db::Db;
use louyu_kit::feed;
use louyu_kit::hosting;
use louyu_kit::identity::{
    KeyAlgorithm, Person, Principal, Role, SigningKey, SystemIdentity, TokenOptions,
};
use louyu_kit::server::{Readiness, Shutdown};
use louyu_proto::common::v1::CoordinateDatum;
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
        /// The datum of the file's coordinates, for rows that do not name
        /// theirs in a `datum` column: gcj02 for AMap or Tencent, bd09 for
        /// Baidu (see docs/coordinates.md).
        #[arg(long, value_enum, default_value_t = ImportDatum::Wgs84)]
        datum: ImportDatum,
        /// The registry to load into.
        #[arg(long, env = "LOUYU_REGISTRY_URL")]
        registry_url: Option<String>,
        /// A district admin's token (`louyu token --role district-admin …`).
        #[arg(long, env = "LOUYU_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The CSV file (UTF-8, with a header row).
        file: PathBuf,
    },
    /// Event feeds after a database restore (see "After a restore" in
    /// docs/architecture.md).
    Feed {
        #[command(subcommand)]
        action: FeedAction,
    },
    /// Print a token signed with the private key of LOUYU_SIGNING_KEY_FILE,
    /// for `authorization: Bearer <token>`.
    Token {
        #[command(flatten)]
        settings: Settings,
        /// A person's role (field-worker, sub-district-admin, district-admin,
        /// department-officer, auditor); repeat it for several.
        #[arg(long, required_unless_present = "system")]
        role: Vec<Role>,
        /// The person's staff id.
        #[arg(long, required_unless_present = "system")]
        staff: Option<String>,
        /// The person's sub-district id.
        #[arg(long)]
        sub_district: Option<String>,
        /// The person's department id.
        #[arg(long)]
        department: Option<String>,
        /// A system's name, for a system's token instead of a person's.
        #[arg(long, conflicts_with_all = ["role", "staff", "sub_district", "department"])]
        system: Option<String>,
        /// How long the token is valid: `90s`, `30m`, `1h`, `7d` (at most).
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: Duration,
        /// The private key (PKCS#8 PEM) that signs the token.
        #[arg(long, env = "LOUYU_SIGNING_KEY_FILE")]
        signing_key_file: PathBuf,
    },
    /// Run the whole suite in one process on embedded SQLite under ./data,
    /// in development identity, with a development key pair under
    /// ./data/identity; prints where everything listens, a ready token for
    /// each role and an example call.
    Up {
        #[command(flatten)]
        settings: Settings,
        /// Load the demo district the first time (see docs/demo.md), then
        /// keep a trickle of visits and referral progress going.
        #[arg(long)]
        demo: bool,
        /// The folder of the databases, the development keys and the demo's
        /// state; created when missing.
        #[arg(long, env = "LOUYU_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// Seconds between the demo's new visits and referral moves; 0 turns
        /// the trickle off.
        #[arg(long, default_value_t = 5)]
        demo_trickle_seconds: u64,
        /// Append the logs to this file instead of standard output.
        #[arg(long)]
        log_file: Option<PathBuf>,
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
const SERVICES: [&dyn hosting::Service; 5] = [
    &louyu_registry::startup::Registry,
    &louyu_visits::startup::Visits,
    &louyu_risk::startup::Risk,
    &louyu_referral::startup::Referral,
    &louyu_gateway::startup::Gateway,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImportDatum {
    Wgs84,
    Gcj02,
    Bd09,
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
            Command::Import { settings, .. }
            | Command::Up { settings, .. }
            | Command::Token { settings, .. } => (settings, None, None),
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
        if let Command::Up { data_dir, .. } = &self.command {
            config.data_dir = data_dir.clone();
        }
        config.validate()?;
        Ok(config)
    }

    /// Where the logs go instead of standard output, if anywhere.
    pub fn log_file(&self) -> Option<&Path> {
        match &self.command {
            Command::Up { log_file, .. } => log_file.as_deref(),
            _ => None,
        }
    }

    /// The name telemetry reports this process under.
    pub fn service_label(&self) -> &'static str {
        match &self.command {
            Command::Serve { service, .. } | Command::Migrate { service, .. } => {
                service.name().as_str()
            }
            Command::Feed { action } => action.service().name().as_str(),
            Command::Import { .. } => "import",
            Command::Token { .. } => "token",
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
                datum,
                registry_url,
                token,
                file,
                ..
            } => {
                let url = registry_url.unwrap_or(config.registry_url.clone());
                let request = ImportFile {
                    kind,
                    validate_only,
                    datum,
                    file,
                };
                import(&config, &url, token.as_deref(), request).await
            }
            Command::Token {
                role,
                staff,
                sub_district,
                department,
                system,
                ttl,
                signing_key_file,
                ..
            } => {
                let principal = match (system, staff) {
                    (Some(name), _) => Principal::System(SystemIdentity {
                        name,
                        district: config.district.clone(),
                    }),
                    (None, Some(staff_id)) => Principal::Person(Person {
                        staff_id,
                        roles: role,
                        district: config.district.clone(),
                        sub_district,
                        department,
                    }),
                    (None, None) => anyhow::bail!("name a --staff id or a --system"),
                };
                let key = signing_key(&config, &signing_key_file)?;
                println!("{}", mint(&config, &key, &principal, ttl)?);
                Ok(())
            }
            Command::Up {
                demo,
                ephemeral_ports,
                demo_trickle_seconds,
                ..
            } => {
                let options = UpOptions {
                    demo,
                    ephemeral_ports,
                    trickle_every: (demo_trickle_seconds > 0)
                        .then(|| Duration::from_secs(demo_trickle_seconds)),
                };
                up(&config, options).await
            }
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
            match resumed {
                feed::Resumed::FromStart => {
                    println!(
                        "the {service} consumer of the {name} feed reads it again from the start; \
                         a running {service} picks this up within ten seconds"
                    );
                    Ok(())
                }
                feed::Resumed::NotHalted => Err(anyhow::anyhow!(
                    "the {service} consumer of the {name} feed is not halted: nothing to resume"
                )),
                feed::Resumed::NoSuchConsumer => Err(anyhow::anyhow!(
                    "this {service} database follows no feed named {name:?}: check the feed's name \
                     (visits follows `registry`) and the database URL"
                )),
            }
        }
    };
    db.close().await;
    outcome
}

/// `90s`, `30m`, `1h`, `7d`.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    louyu_kit::time::parse_duration(text)
        .ok_or_else(|| "expected a number and a unit: 90s, 30m, 1h, 7d".to_owned())
}

/// The signing key at `path`, under `signing_key_id` when the config names
/// one.
fn signing_key(config: &Config, path: &Path) -> anyhow::Result<SigningKey> {
    let key = SigningKey::from_pem_file(path)?;
    Ok(match &config.signing_key_id {
        Some(kid) => key.with_kid(kid.clone()),
        None => key,
    })
}

/// A token for `principal` with the deployment's issuer and audience.
fn mint(
    config: &Config,
    key: &SigningKey,
    principal: &Principal,
    ttl: Duration,
) -> anyhow::Result<String> {
    let options = TokenOptions {
        issuer: config.token_issuer.clone(),
        audience: config.token_audience.clone(),
        ttl,
    };
    Ok(louyu_kit::identity::mint_token(key, principal, &options)?)
}

/// Where `louyu up` keeps its development key pair, in its data folder.
const DEVELOPMENT_KEYS_FOLDER: &str = "identity";

/// The people `louyu up` prints a token for, one per role, on the demo
/// district's street and department; and a system.
fn development_principals(district: &str) -> Vec<(String, Principal)> {
    let person =
        |staff_id: &str, role: Role, sub_district: Option<&str>, department: Option<&str>| {
            Principal::Person(Person {
                staff_id: staff_id.to_owned(),
                roles: vec![role],
                district: district.to_owned(),
                sub_district: sub_district.map(str::to_owned),
                department: department.map(str::to_owned),
            })
        };
    let mut principals: Vec<(String, Principal)> = vec![
        (
            Role::FieldWorker.as_str().to_owned(),
            person("teacher-1", Role::FieldWorker, Some("nanjingxilu"), None),
        ),
        (
            Role::SubDistrictAdmin.as_str().to_owned(),
            person(
                "street-admin-1",
                Role::SubDistrictAdmin,
                Some("nanjingxilu"),
                None,
            ),
        ),
        (
            Role::DistrictAdmin.as_str().to_owned(),
            person("district-admin-1", Role::DistrictAdmin, None, None),
        ),
        (
            Role::DepartmentOfficer.as_str().to_owned(),
            person("tax-officer-1", Role::DepartmentOfficer, None, Some("tax")),
        ),
        (
            Role::Auditor.as_str().to_owned(),
            person("auditor-1", Role::Auditor, None, None),
        ),
    ];
    principals.push((
        Role::System.as_str().to_owned(),
        Principal::System(SystemIdentity {
            name: "dev-system".to_owned(),
            district: district.to_owned(),
        }),
    ));
    principals
}

/// What `louyu up` was asked for beyond its config.
struct UpOptions {
    demo: bool,
    ephemeral_ports: bool,
    /// The demo's trickle, unless turned off.
    trickle_every: Option<Duration>,
}

/// Every service in one process, each on its own port and database file.
async fn up(config: &Config, options: UpOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.listen.is_none() && config.database_url.is_none(),
        "`louyu up` gives each service its own port and database; use `louyu serve` to set them"
    );
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signal();
    let mut base = config.clone();
    if options.ephemeral_ports {
        base.listen = Some("127.0.0.1:0".to_owned());
    }
    // No load balancer stands in front of a local run: Ctrl-C stops at once.
    base.drain_delay = std::time::Duration::ZERO;
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data folder {}", data_dir.display()))?;
    // Development identity, with a fresh key pair each start: tokens signed
    // by it are verified as in production, and `x-louyu-actor` is accepted
    // too (the services warn, and health reports
    // `louyu.identity.development` SERVING).
    let keys_folder = data_dir.join(DEVELOPMENT_KEYS_FOLDER);
    std::fs::create_dir_all(&keys_folder)
        .with_context(|| format!("cannot create {}", keys_folder.display()))?;
    let keys = louyu_kit::identity::generate_development_keys(KeyAlgorithm::EdDsa)?;
    let (signing_key_file, jwks_file) = keys.write_to(&keys_folder)?;
    base.dev_identity = true;
    // With the demo, people log in at the gateway through its built-in
    // development issuer (one demo person per role, no password).
    if options.demo && base.oidc_issuer.is_none() {
        base.dev_issuer = true;
    }
    base.jwks_file = Some(jwks_file);
    base.signing_key_file = Some(signing_key_file.clone());
    // With demo data, health stays NOT_SERVING until it is loaded: the
    // services answer from the start (the demo loads through their APIs),
    // but what they advertise is there only then.
    let readiness = if options.demo {
        Readiness::pending()
    } else {
        Readiness::ready()
    };
    let hosts = hosting::build_together(&SERVICES, &base, &shutdown).await?;
    let listening: Vec<(ServiceName, std::net::SocketAddr)> = SERVICES
        .iter()
        .zip(&hosts)
        .map(|(service, host)| (service.name(), host.local_addr()))
        .collect();
    let address_of = |name: ServiceName| {
        listening
            .iter()
            .find(|(service, _)| *service == name)
            .map(|(_, address)| *address)
            .with_context(|| format!("the suite has a {}", name.as_str()))
    };
    let running: Vec<_> = hosts
        .into_iter()
        .map(|host| tokio::spawn(host.run(readiness.clone())))
        .collect();
    let principals = development_principals(&config.district);
    let mut tokens = Vec::with_capacity(principals.len());
    for (role, principal) in &principals {
        let token = mint(
            &base,
            &keys.signing_key,
            principal,
            Duration::from_secs(12 * 60 * 60),
        )?;
        tokens.push((role.as_str(), principal.audit_name(), token));
    }
    let mut trickle = None;
    if options.demo {
        let urls = crate::demo::Urls {
            registry: format!("http://{}", address_of(ServiceName::Registry)?),
            visits: format!("http://{}", address_of(ServiceName::Visits)?),
            risk: format!("http://{}", address_of(ServiceName::Risk)?),
            referral: format!("http://{}", address_of(ServiceName::Referral)?),
        };
        let minting_config = base.clone();
        let signing_key = std::sync::Arc::new(keys.signing_key);
        let minter: crate::demo::Minter = std::sync::Arc::new(move |principal: &Principal| {
            mint(
                &minting_config,
                &signing_key,
                principal,
                Duration::from_secs(12 * 60 * 60),
            )
        });
        let suite = crate::demo::Suite::connect(&urls, &config.district, minter).await?;
        let files = crate::demo::Files::new(data_dir)?;
        // Ctrl-C during the load stops the suite; the next run completes
        // the load (every step is idempotent), so nothing is half-done for
        // good.
        let loaded = tokio::select! {
            loaded = crate::demo::load_once(&suite, &files) => Some(loaded.context("cannot load the demo data")?),
            () = shutdown.wait() => None,
        };
        match loaded {
            Some(Some(ref loaded)) => println!(
                "demo district loaded in {:.1} s: {} buildings, {} enterprises, {} visits, {} demands",
                loaded.took.as_secs_f64(),
                loaded.buildings,
                loaded.enterprises,
                loaded.visits,
                loaded.demands
            ),
            Some(None) => println!(
                "demo district found in {}: not loaded again",
                data_dir.display()
            ),
            None => {
                tracing::warn!("stopped while loading the demo district; the next run completes it")
            }
        }
        if loaded.is_some() {
            readiness.mark_ready();
            if let Some(every) = options.trickle_every {
                trickle = Some(tokio::spawn(crate::demo::trickle(
                    suite,
                    files,
                    every,
                    shutdown.clone(),
                )));
            }
        }
    }
    if !shutdown.is_triggered() {
        let login_url = base.dev_issuer.then(|| {
            let gateway = address_of(ServiceName::Gateway)
                .map(|address| format!("http://{address}"))
                .unwrap_or_default();
            let public_url = base.gateway_public_url.clone().unwrap_or(gateway);
            format!("{public_url}/login")
        });
        print_welcome(
            config,
            &listening,
            &tokens,
            &signing_key_file,
            login_url.as_deref(),
        )?;
    }
    let services = listening
        .iter()
        .map(|(name, address)| format!("{}=http://{address}", name.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    tracing::info!(services = %services, "louyu is up; Ctrl-C stops it");
    for task in running {
        task.await??;
    }
    if let Some(trickle) = trickle {
        trickle.await?;
    }
    Ok(())
}

/// What a newcomer needs to start calling: where everything listens, a token
/// for each role and a first call to copy.
fn print_welcome(
    config: &Config,
    listening: &[(ServiceName, std::net::SocketAddr)],
    tokens: &[(&str, String, String)],
    signing_key_file: &Path,
    login_url: Option<&str>,
) -> anyhow::Result<()> {
    let gateway = listening
        .iter()
        .find(|(service, _)| *service == ServiceName::Gateway)
        .map(|(_, address)| *address)
        .context("the suite has a gateway")?;
    let district = &config.district;
    println!();
    println!("楼宇 Louyu is up 已启动 (Ctrl-C stops it 按 Ctrl-C 停止)");
    println!("  screen 大屏:          http://{gateway}/");
    println!(
        "  REST (gateway):       http://{gateway}/v1/…   (OpenAPI: http://{gateway}/openapi.json)"
    );
    println!("  gRPC (gateway):       {gateway}");
    for (service, address) in listening {
        if *service != ServiceName::Gateway {
            println!(
                "  gRPC ({}):{:width$}{address}",
                service.as_str(),
                "",
                width = 14 - service.as_str().len()
            );
        }
    }
    println!("  data 数据:            {}", config.data_dir.display());
    println!();
    println!(
        "development tokens (12 h; more with `LOUYU_SIGNING_KEY_FILE={} louyu token …`):",
        signing_key_file.display()
    );
    for (role, name, token) in tokens {
        println!("  {role} ({name}): {token}");
    }
    let admin = tokens
        .iter()
        .find(|(role, _, _)| *role == Role::DistrictAdmin.as_str())
        .map(|(_, _, token)| token.as_str())
        .context("a district admin's token")?;
    println!();
    println!("try it 试一试 (the district's buildings, as the district admin):");
    println!("  TOKEN={admin}");
    println!(
        "  curl -H \"authorization: Bearer $TOKEN\" http://{gateway}/v1/districts/{district}/buildings"
    );
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"parent\":\"districts/{district}\"}}' {gateway} louyu.registry.v1.RegistryService/ListBuildings"
    );
    if let Some(login) = login_url {
        println!("log in 登录 (开发用登录 development login, not for production): {login}");
    }
    println!();
    Ok(())
}

/// What `louyu import` loads.
struct ImportFile {
    kind: ImportFileKind,
    validate_only: bool,
    datum: ImportDatum,
    file: PathBuf,
}

async fn import(
    config: &Config,
    registry_url: &str,
    token: Option<&str>,
    request: ImportFile,
) -> anyhow::Result<()> {
    let ImportFile {
        kind,
        validate_only,
        datum,
        file,
    } = request;
    let csv = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let channel = tonic::transport::Endpoint::from_shared(registry_url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("cannot reach the registry at {registry_url}"))?;
    let mut client = RegistryServiceClient::with_interceptor(channel, bearer(token)?)
        .max_encoding_message_size(32 * 1024 * 1024);
    let kind = match kind {
        ImportFileKind::Buildings => ImportKind::Buildings,
        ImportFileKind::Units => ImportKind::Units,
        ImportFileKind::Enterprises => ImportKind::Enterprises,
        ImportFileKind::Tenancies => ImportKind::Tenancies,
    };
    let datum = match datum {
        ImportDatum::Wgs84 => CoordinateDatum::Wgs84,
        ImportDatum::Gcj02 => CoordinateDatum::Gcj02,
        ImportDatum::Bd09 => CoordinateDatum::Bd09,
    };
    let response = client
        .import_records(louyu_proto::registry::v1::ImportRecordsRequest {
            parent: format!("districts/{}", config.district),
            kind: kind as i32,
            csv,
            validate_only,
            location_datum: datum as i32,
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

/// An interceptor that sends `authorization: Bearer <token>`, or nothing
/// without a token (the registry then says what is missing).
pub fn bearer(
    token: Option<&str>,
) -> anyhow::Result<impl tonic::service::Interceptor + Clone + use<>> {
    let value = match token {
        Some(token) => Some(
            tonic::metadata::MetadataValue::try_from(format!("Bearer {}", token.trim()))
                .context("the token is not ASCII text")?,
        ),
        None => None,
    };
    Ok(move |mut request: tonic::Request<()>| {
        if let Some(value) = &value {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    })
}
