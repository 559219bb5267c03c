//! `louyu up --demo`: a synthetic district (docs/demo.md) loaded through
//! the services' public gRPC APIs, as the people who would make each change,
//! so the services' own rules, events and feeds produce everything derived
//! from it (referrals from demands, colours from observations and leases);
//! then a trickle of new visits and referral progress.
//!
//! The load runs once per data folder: `demo/loaded` is written after a
//! complete load, and a run that finds it goes straight to the trickle.
//! Every call of the load carries a fixed request id (and the registry's
//! CSV import matches rows by id), so a load interrupted half-way is simply
//! run again from the start by the next run, which changes nothing already
//! done and completes the rest.

mod district;
mod load;
mod trickle;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use louyu_kit::identity::{Person, Principal, Role};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use load::Loaded;
pub use trickle::trickle;

/// Mints a development token for a principal (`louyu up`'s key pair).
pub type Minter = Arc<dyn Fn(&Principal) -> anyhow::Result<String> + Send + Sync>;

/// Where each service listens, as `http://host:port`.
pub struct Urls {
    pub registry: String,
    pub visits: String,
    pub risk: String,
    pub referral: String,
}

/// The demo's connection to the suite: a channel to each service, and a
/// token for each person it acts as.
#[derive(Clone)]
pub struct Suite {
    district: String,
    registry: Channel,
    visits: Channel,
    risk: Channel,
    referral: Channel,
    minter: Minter,
    tokens: Arc<Mutex<HashMap<String, Bearer>>>,
}

/// `authorization: Bearer <token>` on every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type Authorized = InterceptedService<Channel, Bearer>;

/// Who the demo acts as.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    DistrictAdmin,
    /// A field worker (`teacher-N`) of a sub-district.
    FieldWorker(&'a str, &'a str),
    /// A department's officer.
    Officer(&'a str),
}

impl Suite {
    pub async fn connect(urls: &Urls, district: &str, minter: Minter) -> anyhow::Result<Self> {
        let connect = |url: &str| {
            let url = url.to_owned();
            async move {
                tonic::transport::Endpoint::from_shared(url.clone())?
                    .connect()
                    .await
                    .with_context(|| format!("cannot reach {url}"))
            }
        };
        Ok(Suite {
            district: district.to_owned(),
            registry: connect(&urls.registry).await?,
            visits: connect(&urls.visits).await?,
            risk: connect(&urls.risk).await?,
            referral: connect(&urls.referral).await?,
            minter,
            tokens: Arc::default(),
        })
    }

    pub fn parent(&self) -> String {
        format!("districts/{}", self.district)
    }

    /// The person behind `actor`, and their staff id.
    fn principal(&self, actor: Actor<'_>) -> (String, Principal) {
        let person =
            |staff_id: String, role, sub_district: Option<&str>, department: Option<&str>| {
                Principal::Person(Person {
                    staff_id,
                    roles: vec![role],
                    district: self.district.clone(),
                    sub_district: sub_district.map(str::to_owned),
                    department: department.map(str::to_owned),
                })
            };
        match actor {
            Actor::DistrictAdmin => (
                "district-admin-1".to_owned(),
                person(
                    "district-admin-1".to_owned(),
                    Role::DistrictAdmin,
                    None,
                    None,
                ),
            ),
            Actor::FieldWorker(staff, sub_district) => (
                staff.to_owned(),
                person(
                    staff.to_owned(),
                    Role::FieldWorker,
                    Some(sub_district),
                    None,
                ),
            ),
            Actor::Officer(department) => {
                let staff = officer_of(department);
                (
                    staff.clone(),
                    person(staff, Role::DepartmentOfficer, None, Some(department)),
                )
            }
        }
    }

    fn bearer(&self, actor: Actor<'_>) -> anyhow::Result<Bearer> {
        let (key, principal) = self.principal(actor);
        let mut tokens = self
            .tokens
            .lock()
            .expect("the token cache is never poisoned");
        if let Some(bearer) = tokens.get(&key) {
            return Ok(bearer.clone());
        }
        let token = (self.minter)(&principal)?;
        let bearer =
            Bearer(MetadataValue::try_from(format!("Bearer {token}")).context("a token is ASCII")?);
        tokens.insert(key, bearer.clone());
        Ok(bearer)
    }

    pub fn registry(
        &self,
        actor: Actor<'_>,
    ) -> anyhow::Result<
        louyu_proto::registry::v1::registry_service_client::RegistryServiceClient<Authorized>,
    > {
        Ok(
            louyu_proto::registry::v1::registry_service_client::RegistryServiceClient::with_interceptor(
                self.registry.clone(),
                self.bearer(actor)?,
            )
            .max_encoding_message_size(32 * 1024 * 1024),
        )
    }

    pub fn councils(
        &self,
        actor: Actor<'_>,
    ) -> anyhow::Result<
        louyu_proto::registry::v1::building_council_service_client::BuildingCouncilServiceClient<
            Authorized,
        >,
    > {
        Ok(
            louyu_proto::registry::v1::building_council_service_client::BuildingCouncilServiceClient::with_interceptor(
                self.registry.clone(),
                self.bearer(actor)?,
            ),
        )
    }

    pub fn visits(
        &self,
        actor: Actor<'_>,
    ) -> anyhow::Result<
        louyu_proto::visits::v1::visits_service_client::VisitsServiceClient<Authorized>,
    > {
        Ok(
            louyu_proto::visits::v1::visits_service_client::VisitsServiceClient::with_interceptor(
                self.visits.clone(),
                self.bearer(actor)?,
            ),
        )
    }

    pub fn risk(
        &self,
        actor: Actor<'_>,
    ) -> anyhow::Result<louyu_proto::risk::v1::risk_service_client::RiskServiceClient<Authorized>>
    {
        Ok(
            louyu_proto::risk::v1::risk_service_client::RiskServiceClient::with_interceptor(
                self.risk.clone(),
                self.bearer(actor)?,
            ),
        )
    }

    pub fn referral(
        &self,
        actor: Actor<'_>,
    ) -> anyhow::Result<
        louyu_proto::referral::v1::referral_service_client::ReferralServiceClient<Authorized>,
    > {
        Ok(
            louyu_proto::referral::v1::referral_service_client::ReferralServiceClient::with_interceptor(
                self.referral.clone(),
                self.bearer(actor)?,
            ),
        )
    }
}

/// The staff id of a department's officer: `tax-officer-1` for `tax`, the
/// department of the officer's token `louyu up` prints.
pub fn officer_of(department: &str) -> String {
    format!("{department}-officer-1")
}

/// The demo's own files in the data folder.
pub struct Files {
    folder: PathBuf,
}

impl Files {
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let folder = data_dir.join("demo");
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("cannot create {}", folder.display()))?;
        Ok(Files { folder })
    }

    /// Written once the whole district is loaded: its presence is what
    /// makes later runs skip the load.
    fn loaded(&self) -> PathBuf {
        self.folder.join("loaded")
    }

    /// The day (Shanghai) the first load began: a resumed load places the
    /// season and the leases around the same day, so it sends the same
    /// requests again.
    fn day(&self) -> PathBuf {
        self.folder.join("day")
    }

    /// How many ticks the trickle has made, so a restart goes on from there
    /// instead of repeating them.
    fn trickle(&self) -> PathBuf {
        self.folder.join("trickle")
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded().is_file()
    }
}

/// Loads the district unless this data folder holds it already. Returns
/// what was loaded, or `None` when it was there.
pub async fn load_once(suite: &Suite, files: &Files) -> anyhow::Result<Option<Loaded>> {
    if files.is_loaded() {
        return Ok(None);
    }
    let day = match std::fs::read_to_string(files.day()) {
        Ok(text) => time::Date::parse(
            text.trim(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .with_context(|| format!("{} is not a date", files.day().display()))?,
        Err(_) => {
            let today = louyu_kit::time::now()
                .to_offset(time::macros::offset!(+8))
                .date();
            write_atomically(&files.day(), &today.to_string())?;
            today
        }
    };
    let loaded = load::load(suite, day).await?;
    write_atomically(
        &files.loaded(),
        &format!(
            "buildings={} enterprises={} visits={} demands={}\n",
            loaded.buildings, loaded.enterprises, loaded.visits, loaded.demands
        ),
    )?;
    Ok(Some(loaded))
}

/// Writes `text` to `path` whole or not at all: a crash leaves the old file
/// or none, never half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
