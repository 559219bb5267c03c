//! Configuration: defaults that work for the one-command local run, then an
//! optional TOML file, then `LOUYU_*` environment variables (and the command
//! line flags that mirror some of them, applied by the binary).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub use crate::gateway_protection::{GatewayProtection, IpRange};
use crate::telemetry::LogFormat;

/// The deployable services, with what each needs by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceName {
    Registry,
    Visits,
    Risk,
    Referral,
    Gateway,
}

impl ServiceName {
    /// Every Louyu service.
    pub const ALL: [ServiceName; 5] = [
        ServiceName::Registry,
        ServiceName::Visits,
        ServiceName::Risk,
        ServiceName::Referral,
        ServiceName::Gateway,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Registry => "registry",
            ServiceName::Visits => "visits",
            ServiceName::Risk => "risk",
            ServiceName::Referral => "referral",
            ServiceName::Gateway => "gateway",
        }
    }

    /// The fixed local port each service listens on by default, so a local
    /// run needs no configuration to wire the services together.
    pub fn default_port(self) -> u16 {
        match self {
            ServiceName::Registry => 50051,
            ServiceName::Visits => 50052,
            ServiceName::Risk => 50053,
            ServiceName::Referral => 50054,
            ServiceName::Gateway => 8080,
        }
    }
}

/// The page-token key used when none is configured. Fine on a laptop; a
/// deployment sets `LOUYU_PAGE_TOKEN_SECRET` (the service warns otherwise).
pub const DEVELOPMENT_PAGE_TOKEN_SECRET: &str = "louyu-development-page-token-secret";

/// The key the referral service signs its webhooks with when a URL is set
/// without a secret, in development mode only (`LOUYU_DEV_IDENTITY=1`);
/// outside it the service refuses to start.
pub const DEVELOPMENT_WEBHOOK_SECRET: &str = "louyu-development-webhook-secret";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The district this deployment serves: its resource id, e.g. `jingan`.
    pub district: String,
    /// Its display name.
    pub district_name: String,
    /// Address to listen on; each service's fixed local port when unset.
    pub listen: Option<String>,
    /// Database URL; `sqlite://<data_dir>/<service>.db` when unset.
    pub database_url: Option<SecretString>,
    /// The folder of the embedded databases (and of `louyu up`'s
    /// development keys and demo state): `data`, relative to the working
    /// directory, unless set.
    pub data_dir: PathBuf,
    /// Apply migrations at start. Turn off where a Kubernetes Job runs
    /// `louyu migrate` before the rollout.
    pub migrate_on_start: bool,
    pub registry_url: String,
    pub visits_url: String,
    pub risk_url: String,
    pub referral_url: String,
    /// Longest a unary call may take before it fails as CANCELLED.
    pub request_timeout_seconds: u64,
    /// The deadline the gateway gives the gRPC call behind a REST request
    /// (a REST caller has no `grpc-timeout` of its own).
    pub rest_timeout_seconds: u64,
    /// Most requests served at once, across connections.
    pub concurrency_limit: usize,
    /// How long a stopping server keeps answering, with health NOT_SERVING,
    /// before its listener closes: `5s`, `500ms`, `0s`.
    #[serde(deserialize_with = "deserialize_duration")]
    pub drain_delay: Duration,
    /// How long a stopping server then waits for calls in flight.
    pub shutdown_grace_seconds: u64,
    /// How often an idle event feed looks for events committed by other
    /// replicas.
    pub feed_poll_interval_ms: u64,
    /// Key that signs page tokens. Secret.
    pub page_token_secret: SecretString,
    pub log_format: LogFormat,
    /// OTLP/gRPC collector for traces; also read from the standard
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    /// Where the process serves Prometheus metrics, `GET /metrics`
    /// (`LOUYU_METRICS_LISTEN`, e.g. `0.0.0.0:9464`); off when unset.
    pub metrics_listen: Option<String>,
    /// How often a service counts, in its database, the gauges that
    /// describe the district (overdue referrals, enterprises by colour):
    /// `30s`, `500ms`. Each count is a query over a whole table, so not at
    /// every scheduler turn.
    #[serde(deserialize_with = "deserialize_duration")]
    pub metrics_refresh_interval: Duration,
    /// Development and trials only: shifts the process's clock, `+30d`,
    /// `-12h`, so deadlines and lease ends can be tried from outside.
    #[serde(deserialize_with = "deserialize_clock_offset")]
    pub dev_clock_offset: crate::time::ClockOffset,
    /// The deployment's public keys, a JWKS file re-read when it changes
    /// (`LOUYU_JWKS_FILE`). Required unless `dev_identity` is on.
    pub jwks_file: Option<PathBuf>,
    /// Development only (`LOUYU_DEV_IDENTITY=1`): trust `x-louyu-actor`
    /// without a token. Health reports `louyu.identity.development`
    /// SERVING while it is on, so a production deployment can alert on it.
    pub dev_identity: bool,
    /// The private key this process signs its own service tokens with, when
    /// it calls another service or follows its feed (`LOUYU_SIGNING_KEY_FILE`).
    pub signing_key_file: Option<PathBuf>,
    /// The `kid` of that key, when the JWKS does not name it by its
    /// thumbprint (`LOUYU_SIGNING_KEY_ID`).
    pub signing_key_id: Option<String>,
    /// Expected and minted `iss` (`LOUYU_TOKEN_ISSUER`).
    pub token_issuer: String,
    /// Expected and minted `aud` (`LOUYU_TOKEN_AUDIENCE`).
    pub token_audience: String,
    /// Other government systems granted this service's event feed, by the
    /// name in their token (`LOUYU_FEED_READERS`, comma-separated, e.g.
    /// `hotline-12345,stats-bureau`). Louyu's own services are always
    /// granted; any other system is refused.
    pub feed_readers: Vec<String>,
    /// Where the referral service POSTs its notifications, a plain
    /// `http://` URL (TLS is the district's egress proxy's)
    /// (`LOUYU_REFERRAL_WEBHOOK_URL`). Empty: notifications are kept
    /// pending until one is configured.
    pub referral_webhook_url: String,
    /// The shared key the webhook's bodies are signed with (HMAC-SHA256).
    /// Secret; required with a URL outside development mode
    /// (`LOUYU_REFERRAL_WEBHOOK_SECRET`).
    pub referral_webhook_secret: Option<SecretString>,
    /// How each building's chief (楼长) is chosen: `council` (the council's
    /// nominee after three public notices) or `sub_district_official` (the
    /// sub-district's responsible official, appointed at once); the
    /// district's policy (`LOUYU_CHIEF_POLICY`).
    pub chief_policy: ChiefPolicy,
    /// Attempts before a notification is given up as dead
    /// (`LOUYU_REFERRAL_WEBHOOK_MAX_ATTEMPTS`).
    pub referral_webhook_max_attempts: u32,
    /// The wait after the first failed attempt, doubled after each next
    /// one (`LOUYU_REFERRAL_WEBHOOK_BACKOFF_BASE`: `1s`, `50ms`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub referral_webhook_backoff_base: Duration,
    /// The longest wait between attempts (`LOUYU_REFERRAL_WEBHOOK_BACKOFF_CAP`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub referral_webhook_backoff_cap: Duration,
    /// Longest the webhook may take to accept a connection
    /// (`LOUYU_REFERRAL_WEBHOOK_CONNECT_TIMEOUT`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub referral_webhook_connect_timeout: Duration,
    /// Longest one attempt may take in all, connecting included
    /// (`LOUYU_REFERRAL_WEBHOOK_TIMEOUT`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub referral_webhook_timeout: Duration,
    /// The gateway's protection: size and rate limits, load shedding,
    /// timeouts, CORS and security headers (`LOUYU_GATEWAY_*`, the
    /// `[gateway_protection]` table of the file; docs/gateway-protection.md).
    pub gateway_protection: GatewayProtection,
    /// The gateway's login: the district's OpenID Connect provider, its
    /// issuer URL, discovered at `/.well-known/openid-configuration`
    /// (`LOUYU_OIDC_ISSUER`). Unset: no person logs in at the gateway (bearer
    /// tokens still pass through).
    pub oidc_issuer: Option<String>,
    /// The gateway's client id at that provider (`LOUYU_OIDC_CLIENT_ID`).
    pub oidc_client_id: String,
    /// A file holding the client's secret, for a confidential client
    /// (`LOUYU_OIDC_CLIENT_SECRET_FILE`); a public client uses PKCE alone.
    pub oidc_client_secret_file: Option<PathBuf>,
    /// The ID token claims the gateway reads a person's roles, sub-district,
    /// department and district from (`LOUYU_OIDC_ROLES_CLAIM`, …).
    pub oidc_roles_claim: String,
    pub oidc_sub_district_claim: String,
    pub oidc_department_claim: String,
    pub oidc_district_claim: String,
    /// The shortest time between two fetches of the provider's keys when an
    /// ID token names an unknown `kid` (`LOUYU_OIDC_KEYS_MIN_REFETCH`: `30s`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub oidc_keys_min_refetch: Duration,
    /// Where people reach the gateway, the base of its redirect URI
    /// (`LOUYU_GATEWAY_PUBLIC_URL`, e.g. `https://louyu.jingan.gov.cn`);
    /// the gateway's own address when unset. An `https://` URL turns on
    /// `Strict-Transport-Security` and the session cookie's `Secure`.
    pub gateway_public_url: Option<String>,
    /// A login session ends after this long without a request
    /// (`LOUYU_SESSION_IDLE_TIMEOUT`: `30m`)…
    #[serde(deserialize_with = "deserialize_duration")]
    pub session_idle_timeout: Duration,
    /// …and this long after the login in any case
    /// (`LOUYU_SESSION_ABSOLUTE_TIMEOUT`: `12h`).
    #[serde(deserialize_with = "deserialize_duration")]
    pub session_absolute_timeout: Duration,
    /// Other government systems that get tokens at the gateway, a TOML file
    /// (`LOUYU_GATEWAY_CLIENTS_FILE`).
    pub gateway_clients_file: Option<PathBuf>,
    /// Development only (`LOUYU_DEV_ISSUER=1`, with `LOUYU_DEV_IDENTITY=1`):
    /// the gateway is its own OpenID Connect provider under `/dev-issuer/`,
    /// where anyone logs in as any of the demo's people.
    pub dev_issuer: bool,
}

/// How the referral service delivers its notifications, checked: a URL, the
/// key to sign with, and the retry schedule.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// An `http://` URL.
    pub url: String,
    pub secret: SecretString,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl WebhookSettings {
    /// Whether the bodies are signed with [`DEVELOPMENT_WEBHOOK_SECRET`],
    /// which anyone with this repository knows (the service warns).
    pub fn signs_with_development_key(&self) -> bool {
        self.secret.expose_secret() == DEVELOPMENT_WEBHOOK_SECRET
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            district: "jingan".to_owned(),
            district_name: "静安区".to_owned(),
            listen: None,
            database_url: None,
            migrate_on_start: true,
            data_dir: PathBuf::from("data"),
            registry_url: local_url(ServiceName::Registry),
            visits_url: local_url(ServiceName::Visits),
            risk_url: local_url(ServiceName::Risk),
            referral_url: local_url(ServiceName::Referral),
            request_timeout_seconds: 30,
            rest_timeout_seconds: 30,
            concurrency_limit: 256,
            drain_delay: Duration::from_secs(5),
            shutdown_grace_seconds: 20,
            feed_poll_interval_ms: 1000,
            page_token_secret: SecretString::from(DEVELOPMENT_PAGE_TOKEN_SECRET),
            log_format: LogFormat::Pretty,
            otlp_endpoint: None,
            metrics_listen: None,
            metrics_refresh_interval: Duration::from_secs(30),
            dev_clock_offset: crate::time::ClockOffset::default(),
            jwks_file: None,
            dev_identity: false,
            signing_key_file: None,
            signing_key_id: None,
            token_issuer: crate::identity::DEFAULT_ISSUER.to_owned(),
            token_audience: crate::identity::DEFAULT_AUDIENCE.to_owned(),
            feed_readers: Vec::new(),
            referral_webhook_url: String::new(),
            referral_webhook_secret: None,
            referral_webhook_max_attempts: 12,
            chief_policy: ChiefPolicy::Council,
            referral_webhook_backoff_base: Duration::from_secs(1),
            referral_webhook_backoff_cap: Duration::from_secs(600),
            referral_webhook_connect_timeout: Duration::from_secs(5),
            referral_webhook_timeout: Duration::from_secs(10),
            gateway_protection: GatewayProtection::default(),
            oidc_issuer: None,
            oidc_client_id: "louyu-gateway".to_owned(),
            oidc_client_secret_file: None,
            oidc_roles_claim: "louyu_roles".to_owned(),
            oidc_sub_district_claim: "louyu_sub_district".to_owned(),
            oidc_department_claim: "louyu_department".to_owned(),
            oidc_district_claim: "louyu_district".to_owned(),
            oidc_keys_min_refetch: Duration::from_secs(30),
            gateway_public_url: None,
            session_idle_timeout: Duration::from_secs(30 * 60),
            session_absolute_timeout: Duration::from_secs(12 * 60 * 60),
            gateway_clients_file: None,
            dev_issuer: false,
        }
    }
}

fn local_url(service: ServiceName) -> String {
    format!("http://127.0.0.1:{}", service.default_port())
}

impl Config {
    /// Defaults, then `file` if given, then the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|key| std::env::var(key).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Overrides settings from `LOUYU_<SETTING>` variables (upper case), and
    /// the OTLP endpoint from `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        let text = |key: &str| lookup(key).filter(|value| !value.is_empty());
        if let Some(value) = text("LOUYU_DISTRICT") {
            self.district = value;
        }
        if let Some(value) = text("LOUYU_DISTRICT_NAME") {
            self.district_name = value;
        }
        if let Some(value) = text("LOUYU_LISTEN") {
            self.listen = Some(value);
        }
        if let Some(value) = text("LOUYU_DATABASE_URL") {
            self.database_url = Some(SecretString::from(value));
        }
        if let Some(value) = text("LOUYU_MIGRATE_ON_START") {
            self.migrate_on_start = parse_env("LOUYU_MIGRATE_ON_START", &value)?;
        }
        if let Some(value) = text("LOUYU_REGISTRY_URL") {
            self.registry_url = value;
        }
        if let Some(value) = text("LOUYU_FEED_READERS") {
            self.feed_readers = value
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(value) = text("LOUYU_VISITS_URL") {
            self.visits_url = value;
        }
        if let Some(value) = text("LOUYU_RISK_URL") {
            self.risk_url = value;
        }
        if let Some(value) = text("LOUYU_REFERRAL_URL") {
            self.referral_url = value;
        }
        if let Some(value) = text("LOUYU_REQUEST_TIMEOUT_SECONDS") {
            self.request_timeout_seconds = parse_env("LOUYU_REQUEST_TIMEOUT_SECONDS", &value)?;
        }
        if let Some(value) = text("LOUYU_REST_TIMEOUT_SECONDS") {
            self.rest_timeout_seconds = parse_env("LOUYU_REST_TIMEOUT_SECONDS", &value)?;
        }
        if let Some(value) = text("LOUYU_CONCURRENCY_LIMIT") {
            self.concurrency_limit = parse_env("LOUYU_CONCURRENCY_LIMIT", &value)?;
        }
        if let Some(value) = text("LOUYU_DRAIN_DELAY") {
            self.drain_delay = crate::time::parse_duration(&value)
                .ok_or_else(|| anyhow::anyhow!("LOUYU_DRAIN_DELAY has an invalid value"))?;
        }
        if let Some(value) = text("LOUYU_SHUTDOWN_GRACE_SECONDS") {
            self.shutdown_grace_seconds = parse_env("LOUYU_SHUTDOWN_GRACE_SECONDS", &value)?;
        }
        if let Some(value) = text("LOUYU_FEED_POLL_INTERVAL_MS") {
            self.feed_poll_interval_ms = parse_env("LOUYU_FEED_POLL_INTERVAL_MS", &value)?;
        }
        if let Some(value) = text("LOUYU_PAGE_TOKEN_SECRET") {
            self.page_token_secret = SecretString::from(value);
        }
        if let Some(value) = text("LOUYU_DATA_DIR") {
            self.data_dir = PathBuf::from(value);
        }
        if let Some(value) = text("LOUYU_LOG_FORMAT") {
            self.log_format = match value.as_str() {
                "json" => LogFormat::Json,
                "pretty" => LogFormat::Pretty,
                _ => anyhow::bail!("LOUYU_LOG_FORMAT must be json or pretty"),
            };
        }
        if let Some(value) = text("LOUYU_DEV_CLOCK_OFFSET") {
            self.dev_clock_offset = value
                .parse()
                .map_err(|error| anyhow::anyhow!("LOUYU_DEV_CLOCK_OFFSET: {error}"))?;
        }
        if let Some(value) = text("LOUYU_JWKS_FILE") {
            self.jwks_file = Some(PathBuf::from(value));
        }
        if let Some(value) = text("LOUYU_DEV_IDENTITY") {
            self.dev_identity = match value.trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => anyhow::bail!("LOUYU_DEV_IDENTITY must be 1 or 0"),
            };
        }
        if let Some(value) = text("LOUYU_SIGNING_KEY_FILE") {
            self.signing_key_file = Some(PathBuf::from(value));
        }
        if let Some(value) = text("LOUYU_SIGNING_KEY_ID") {
            self.signing_key_id = Some(value);
        }
        if let Some(value) = text("LOUYU_TOKEN_ISSUER") {
            self.token_issuer = value;
        }
        if let Some(value) = text("LOUYU_TOKEN_AUDIENCE") {
            self.token_audience = value;
        }
        if let Some(value) = text("LOUYU_REFERRAL_WEBHOOK_URL") {
            self.referral_webhook_url = value;
        }
        if let Some(value) = text("LOUYU_REFERRAL_WEBHOOK_SECRET") {
            self.referral_webhook_secret = Some(SecretString::from(value));
        }
        if let Some(value) = text("LOUYU_CHIEF_POLICY") {
            self.chief_policy = parse_env("LOUYU_CHIEF_POLICY", &value)?;
        }
        if let Some(value) = text("LOUYU_REFERRAL_WEBHOOK_MAX_ATTEMPTS") {
            self.referral_webhook_max_attempts =
                parse_env("LOUYU_REFERRAL_WEBHOOK_MAX_ATTEMPTS", &value)?;
        }
        for (key, setting) in [
            (
                "LOUYU_REFERRAL_WEBHOOK_BACKOFF_BASE",
                &mut self.referral_webhook_backoff_base,
            ),
            (
                "LOUYU_REFERRAL_WEBHOOK_BACKOFF_CAP",
                &mut self.referral_webhook_backoff_cap,
            ),
            (
                "LOUYU_REFERRAL_WEBHOOK_CONNECT_TIMEOUT",
                &mut self.referral_webhook_connect_timeout,
            ),
            (
                "LOUYU_REFERRAL_WEBHOOK_TIMEOUT",
                &mut self.referral_webhook_timeout,
            ),
        ] {
            if let Some(value) = text(key) {
                *setting = crate::time::parse_duration(&value)
                    .ok_or_else(|| anyhow::anyhow!("{key} has an invalid value"))?;
            }
        }
        self.gateway_protection.apply_env(&text)?;
        if let Some(value) = text("LOUYU_OIDC_ISSUER") {
            self.oidc_issuer = Some(value);
        }
        if let Some(value) = text("LOUYU_OIDC_CLIENT_ID") {
            self.oidc_client_id = value;
        }
        if let Some(value) = text("LOUYU_OIDC_CLIENT_SECRET_FILE") {
            self.oidc_client_secret_file = Some(PathBuf::from(value));
        }
        for (key, setting) in [
            ("LOUYU_OIDC_ROLES_CLAIM", &mut self.oidc_roles_claim),
            (
                "LOUYU_OIDC_SUB_DISTRICT_CLAIM",
                &mut self.oidc_sub_district_claim,
            ),
            (
                "LOUYU_OIDC_DEPARTMENT_CLAIM",
                &mut self.oidc_department_claim,
            ),
            ("LOUYU_OIDC_DISTRICT_CLAIM", &mut self.oidc_district_claim),
        ] {
            if let Some(value) = text(key) {
                *setting = value;
            }
        }
        if let Some(value) = text("LOUYU_GATEWAY_PUBLIC_URL") {
            self.gateway_public_url = Some(value);
        }
        for (key, setting) in [
            (
                "LOUYU_OIDC_KEYS_MIN_REFETCH",
                &mut self.oidc_keys_min_refetch,
            ),
            ("LOUYU_SESSION_IDLE_TIMEOUT", &mut self.session_idle_timeout),
            (
                "LOUYU_SESSION_ABSOLUTE_TIMEOUT",
                &mut self.session_absolute_timeout,
            ),
        ] {
            if let Some(value) = text(key) {
                *setting = crate::time::parse_duration(&value)
                    .ok_or_else(|| anyhow::anyhow!("{key} has an invalid value"))?;
            }
        }
        if let Some(value) = text("LOUYU_GATEWAY_CLIENTS_FILE") {
            self.gateway_clients_file = Some(PathBuf::from(value));
        }
        if let Some(value) = text("LOUYU_DEV_ISSUER") {
            self.dev_issuer = match value.trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => anyhow::bail!("LOUYU_DEV_ISSUER must be 1 or 0"),
            };
        }
        if let Some(value) =
            text("LOUYU_OTLP_ENDPOINT").or_else(|| text("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            self.otlp_endpoint = Some(value);
        }
        if let Some(value) = text("LOUYU_METRICS_LISTEN") {
            self.metrics_listen = Some(value);
        }
        if let Some(value) = text("LOUYU_METRICS_REFRESH_INTERVAL") {
            self.metrics_refresh_interval =
                crate::time::parse_duration(&value).ok_or_else(|| {
                    anyhow::anyhow!("LOUYU_METRICS_REFRESH_INTERVAL has an invalid value")
                })?;
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        crate::names::parse_resource_id("district", &self.district)
            .map_err(|error| anyhow::anyhow!("district {:?}: {error}", self.district))?;
        anyhow::ensure!(
            !self.district_name.trim().is_empty(),
            "district_name must not be empty"
        );
        anyhow::ensure!(
            self.request_timeout_seconds > 0,
            "request_timeout_seconds must be positive"
        );
        anyhow::ensure!(
            self.rest_timeout_seconds > 0,
            "rest_timeout_seconds must be positive"
        );
        anyhow::ensure!(
            self.concurrency_limit > 0,
            "concurrency_limit must be positive"
        );
        anyhow::ensure!(
            self.feed_poll_interval_ms > 0,
            "feed_poll_interval_ms must be positive"
        );
        for reader in &self.feed_readers {
            crate::names::parse_resource_id("feed_readers", reader)
                .map_err(|error| anyhow::anyhow!("feed_readers {reader:?}: {error}"))?;
        }
        if let Some(url) = &self.gateway_public_url {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| anyhow::anyhow!("LOUYU_GATEWAY_PUBLIC_URL is not a URL"))?;
            anyhow::ensure!(
                matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some(),
                "LOUYU_GATEWAY_PUBLIC_URL must be an http:// or https:// URL with a host"
            );
        }
        self.gateway_protection.validate()?;
        Ok(())
    }

    /// Whether people reach the gateway over HTTPS (its public URL says
    /// so), so that browsers may be told to use nothing else.
    pub fn gateway_is_https(&self) -> bool {
        self.gateway_public_url
            .as_deref()
            .is_some_and(|url| url.trim().to_ascii_lowercase().starts_with("https://"))
    }

    /// The referral service's webhook, checked; `None` when no URL is set
    /// (notifications then wait, pending, for one). A URL without a secret
    /// is refused outside development mode, where the development key
    /// signs (and the service warns). The referral service checks it as it
    /// is built, so a mistake stops its start and no other service's, and
    /// `louyu up`'s development mode counts.
    pub fn referral_webhook(&self) -> anyhow::Result<Option<WebhookSettings>> {
        let url = self.referral_webhook_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|_| anyhow::anyhow!("LOUYU_REFERRAL_WEBHOOK_URL is not a URL"))?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http") && uri.host().is_some(),
            "LOUYU_REFERRAL_WEBHOOK_URL must be an http:// URL with a host; \
             TLS to the outside is the district's egress proxy's"
        );
        let secret = match &self.referral_webhook_secret {
            Some(secret) if !secret.expose_secret().is_empty() => secret.clone(),
            _ if self.dev_identity => SecretString::from(DEVELOPMENT_WEBHOOK_SECRET),
            _ => anyhow::bail!(
                "LOUYU_REFERRAL_WEBHOOK_SECRET must be set with LOUYU_REFERRAL_WEBHOOK_URL \
                 (only development mode, LOUYU_DEV_IDENTITY=1, signs with a development key)"
            ),
        };
        anyhow::ensure!(
            self.referral_webhook_max_attempts > 0,
            "referral_webhook_max_attempts must be positive"
        );
        anyhow::ensure!(
            !self.referral_webhook_backoff_base.is_zero()
                && self.referral_webhook_backoff_base <= self.referral_webhook_backoff_cap,
            "referral_webhook_backoff_base must be positive and at most referral_webhook_backoff_cap"
        );
        anyhow::ensure!(
            !self.referral_webhook_connect_timeout.is_zero()
                && !self.referral_webhook_timeout.is_zero(),
            "the referral webhook's timeouts must be positive"
        );
        Ok(Some(WebhookSettings {
            url: url.to_owned(),
            secret,
            max_attempts: self.referral_webhook_max_attempts,
            backoff_base: self.referral_webhook_backoff_base,
            backoff_cap: self.referral_webhook_backoff_cap,
            connect_timeout: self.referral_webhook_connect_timeout,
            timeout: self.referral_webhook_timeout,
        }))
    }

    pub fn listen_address(&self, service: ServiceName) -> String {
        self.listen
            .clone()
            .unwrap_or_else(|| format!("127.0.0.1:{}", service.default_port()))
    }

    /// Points the URL where the other services find `service` at `url`
    /// (`louyu up` and the test sandbox, once every listener is bound). The
    /// gateway is reached by people, not by services: it has no such URL.
    pub fn set_peer_url(&mut self, service: ServiceName, url: String) {
        match service {
            ServiceName::Registry => self.registry_url = url,
            ServiceName::Visits => self.visits_url = url,
            ServiceName::Risk => self.risk_url = url,
            ServiceName::Referral => self.referral_url = url,
            ServiceName::Gateway => {}
        }
    }

    pub fn database_url(&self, service: ServiceName) -> SecretString {
        self.database_url.clone().unwrap_or_else(|| {
            SecretString::from(format!(
                "sqlite://{}/{}.db",
                self.data_dir.display(),
                service.as_str()
            ))
        })
    }

    pub fn uses_development_page_token_secret(&self) -> bool {
        self.page_token_secret.expose_secret() == DEVELOPMENT_PAGE_TOKEN_SECRET
    }

    pub fn server_settings(&self) -> crate::server::ServerSettings {
        crate::server::ServerSettings {
            request_timeout: Duration::from_secs(self.request_timeout_seconds),
            concurrency_limit: self.concurrency_limit,
            drain_delay: self.drain_delay,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_seconds),
        }
    }

    /// How this deployment checks its callers.
    pub fn identity_settings(&self) -> crate::identity::IdentitySettings {
        crate::identity::IdentitySettings {
            district: self.district.clone(),
            issuer: self.token_issuer.clone(),
            audience: self.token_audience.clone(),
            jwks_file: self.jwks_file.clone(),
            development_identity: self.dev_identity,
        }
    }

    pub fn feed_poll_interval(&self) -> Duration {
        Duration::from_millis(self.feed_poll_interval_ms)
    }
}

pub(crate) fn deserialize_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::time::parse_duration(&text).ok_or_else(|| {
        serde::de::Error::custom("expected a duration with its unit, such as \"5s\" or \"500ms\"")
    })
}

fn deserialize_clock_offset<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<crate::time::ClockOffset, D::Error> {
    String::deserialize(deserializer)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// How a district chooses each building's chief.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChiefPolicy {
    /// The council's nominee, after "one nomination, three public notices".
    #[default]
    Council,
    /// The sub-district's responsible official, appointed at once.
    SubDistrictOfficial,
}

impl std::str::FromStr for ChiefPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "council" => Ok(ChiefPolicy::Council),
            "sub_district_official" => Ok(ChiefPolicy::SubDistrictOfficial),
            _ => Err(format!(
                "{text:?} is not a chief policy: council or sub_district_official"
            )),
        }
    }
}

fn parse_env<T: std::str::FromStr>(key: &str, value: &str) -> anyhow::Result<T> {
    value
        .parse()
        .map_err(|_| anyhow::anyhow!("{key} has an invalid value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn defaults_run_locally_on_sqlite_with_fixed_ports() {
        let config = Config::default();
        config.validate().unwrap();
        assert_eq!(
            config.listen_address(ServiceName::Registry),
            "127.0.0.1:50051"
        );
        assert_eq!(
            config.database_url(ServiceName::Registry).expose_secret(),
            "sqlite://data/registry.db"
        );
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let mut config: Config =
            toml::from_str("district = \"xuhui\"\nrequest_timeout_seconds = 5\n").unwrap();
        config
            .apply_env(|key| match key {
                "LOUYU_DATABASE_URL" => Some("postgres://db/louyu".to_owned()),
                "LOUYU_REQUEST_TIMEOUT_SECONDS" => Some("7".to_owned()),
                "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4317".to_owned()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.district, "xuhui");
        assert_eq!(config.request_timeout_seconds, 7);
        assert_eq!(
            config.database_url(ServiceName::Registry).expose_secret(),
            "postgres://db/louyu"
        );
        assert_eq!(
            config.otlp_endpoint.as_deref(),
            Some("http://collector:4317")
        );
    }

    #[test]
    fn the_drain_delay_is_a_duration_with_its_unit() {
        assert_eq!(Config::default().drain_delay, Duration::from_secs(5));
        let from_file: Config = toml::from_str("drain_delay = \"2s\"\n").unwrap();
        assert_eq!(from_file.drain_delay, Duration::from_secs(2));
        assert!(toml::from_str::<Config>("drain_delay = 2\n").is_err());
        let mut config = Config::default();
        config
            .apply_env(|key| (key == "LOUYU_DRAIN_DELAY").then(|| "250ms".to_owned()))
            .unwrap();
        assert_eq!(config.drain_delay, Duration::from_millis(250));
        assert!(
            config
                .apply_env(|key| (key == "LOUYU_DRAIN_DELAY").then(|| "5".to_owned()))
                .is_err()
        );
    }

    #[test]
    fn the_metrics_refresh_interval_is_a_duration_with_its_unit() {
        assert_eq!(
            Config::default().metrics_refresh_interval,
            Duration::from_secs(30)
        );
        let from_file: Config = toml::from_str("metrics_refresh_interval = \"1m\"\n").unwrap();
        assert_eq!(from_file.metrics_refresh_interval, Duration::from_secs(60));
        let mut config = Config::default();
        config
            .apply_env(|key| (key == "LOUYU_METRICS_REFRESH_INTERVAL").then(|| "500ms".to_owned()))
            .unwrap();
        assert_eq!(config.metrics_refresh_interval, Duration::from_millis(500));
        assert!(
            config
                .apply_env(|key| (key == "LOUYU_METRICS_REFRESH_INTERVAL").then(|| "30".to_owned()))
                .is_err()
        );
    }

    #[test]
    fn bad_values_are_reported_by_name_without_echoing_them() {
        let mut config = Config::default();
        let error = config
            .apply_env(|key| (key == "LOUYU_CONCURRENCY_LIMIT").then(|| "many".to_owned()))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "LOUYU_CONCURRENCY_LIMIT has an invalid value"
        );
        assert!(toml::from_str::<Config>("unknown_setting = 1").is_err());
        let bad_district = Config {
            district: "Jing An".to_owned(),
            ..Config::default()
        };
        assert!(bad_district.validate().is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        let config = Config {
            database_url: Some(SecretString::from("postgres://louyu:hunter2@db/louyu")),
            page_token_secret: SecretString::from("s3cret-key"),
            referral_webhook_url: "http://wecom-bridge.internal/louyu".to_owned(),
            referral_webhook_secret: Some(SecretString::from("webhook-s3cret")),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains("s3cret-key"));
        assert!(!printed.contains("webhook-s3cret"));
        let webhook = config.referral_webhook().unwrap().expect("configured");
        assert!(!format!("{webhook:?}").contains("webhook-s3cret"));
    }

    #[test]
    fn without_a_webhook_url_notifications_wait_and_the_defaults_hold() {
        let config = Config::default();
        assert!(config.referral_webhook().unwrap().is_none());
        assert_eq!(config.referral_webhook_max_attempts, 12);
        assert_eq!(config.referral_webhook_backoff_base, Duration::from_secs(1));
        assert_eq!(
            config.referral_webhook_backoff_cap,
            Duration::from_secs(600)
        );
    }

    #[test]
    fn a_webhook_url_needs_a_secret_outside_development_mode() {
        let mut config = Config::default();
        config
            .apply_env(|key| match key {
                "LOUYU_REFERRAL_WEBHOOK_URL" => Some("http://sms-gateway:8080/hook".to_owned()),
                "LOUYU_REFERRAL_WEBHOOK_BACKOFF_BASE" => Some("20ms".to_owned()),
                "LOUYU_REFERRAL_WEBHOOK_BACKOFF_CAP" => Some("1s".to_owned()),
                "LOUYU_REFERRAL_WEBHOOK_MAX_ATTEMPTS" => Some("3".to_owned()),
                _ => None,
            })
            .unwrap();
        config.validate().unwrap();
        let refused = config.referral_webhook().unwrap_err().to_string();
        assert!(
            refused.contains("LOUYU_REFERRAL_WEBHOOK_SECRET"),
            "{refused}"
        );
        config.dev_identity = true;
        let development = config.referral_webhook().unwrap().expect("configured");
        assert!(development.signs_with_development_key());
        assert_eq!(development.backoff_base, Duration::from_millis(20));
        assert_eq!(development.max_attempts, 3);
        config.dev_identity = false;
        config.referral_webhook_secret = Some(SecretString::from("shared"));
        assert!(config.referral_webhook().unwrap().is_some());
        config.referral_webhook_url = "https://wecom.example.gov.cn/hook".to_owned();
        assert!(
            config.referral_webhook().is_err(),
            "https is the egress proxy's"
        );
    }
}
