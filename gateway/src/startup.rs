//! What the gateway serves, built on kit's hosting: no gRPC service of its
//! own, and every call that is not health or reflection handed to the
//! [`Forwarder`], which passes it on to its owner at the URL in the config;
//! every request that is not gRPC goes to the REST transcoder, [`Rest`],
//! which calls the owners through the same forwarder. In front of both, the
//! [`Login`] answers its own routes and turns a session cookie into a token.

use louyu_kit::config::ServiceName;
use louyu_kit::hosting::{Context, HostBuilder, Service};
use sqlx::migrate::Migrator;

use std::time::Duration;

use tower::util::BoxCloneSyncService;

use crate::forward::{FORWARDED_SERVICES, Forwarder};
use crate::login::Login;
use crate::protect::Protection;
use crate::rest::Rest;
use crate::stream::Streams;

/// The gateway, as the `louyu` binary and the test sandbox host it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gateway;

impl Service for Gateway {
    fn name(&self) -> ServiceName {
        ServiceName::Gateway
    }

    /// Its login sessions, the same SQL on both backends.
    fn migrator(&self) -> Migrator {
        sqlx::migrate!()
    }

    fn build(&self, context: &Context<'_>, host: HostBuilder) -> anyhow::Result<HostBuilder> {
        let forwarder = Forwarder::from_config(context.config)?;
        // The gateway follows every feed for the live screen as itself.
        let streams = Streams::new(
            context.config,
            context.peer_credentials(ServiceName::Gateway)?,
            context.shutdown.subscribe(),
        )?;
        let rest = Rest::new(
            forwarder.clone(),
            Duration::from_secs(context.config.rest_timeout_seconds),
        )?
        .with_streams(streams)
        .with_max_body_bytes(context.config.gateway_protection.max_body_bytes);
        let protection = Protection::from_config(context.config)?;
        let names: Vec<&'static str> = FORWARDED_SERVICES.iter().map(|(name, _)| *name).collect();
        let public_url = context
            .config
            .gateway_public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", host.local_addr()));
        let login = Login::from_config(
            context.config,
            context.db.clone(),
            public_url,
            context.identity.signing_key().cloned(),
            context.identity.token_options().clone(),
        )?;
        let schedule = login.clone();
        Ok(host
            .edge(protection.layer())
            .admit_with(login.admission())
            .run_job("login schedule", move |stop| schedule.run_schedule(stop))
            .forward_unrouted(&names, forwarder)
            .serve_http(BoxCloneSyncService::new(rest)))
    }

    /// The event feeds and audit trails are each service's own: through one
    /// door, `louyu.common.v1.AuditService` could not say whose, so the
    /// gateway neither serves nor forwards them.
    fn serves_feed_and_audit(&self) -> bool {
        false
    }
}
