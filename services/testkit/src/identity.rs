//! Who the suites' clients are: every sandbox signs tokens with a
//! development key pair of its own, and its clients present one. The
//! default is a district admin, who may call every method but the audit
//! trail; [`auditor`] and [`person`] give others.

use louyu_kit::identity::{DevelopmentKeys, KeyAlgorithm, Person, Principal, Role};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The district of the sandbox's tokens: the default config's.
pub const TOKEN_DISTRICT: &str = "jingan";

/// A channel whose calls carry a bearer token.
pub type AuthorizedChannel = InterceptedService<Channel, Bearer>;

/// Sets `authorization: Bearer <token>` on every call that does not set its
/// own (tests of bad tokens set theirs).
#[derive(Debug, Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(MetadataValue::try_from(format!("Bearer {token}")).expect("a token is ASCII"))
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if !request.metadata().contains_key("authorization") {
            request
                .metadata_mut()
                .insert("authorization", self.0.clone());
        }
        Ok(request)
    }
}

/// A person of the sandbox's district.
pub fn person(staff_id: &str, roles: &[Role]) -> Principal {
    Principal::Person(Person {
        staff_id: staff_id.to_owned(),
        roles: roles.to_vec(),
        district: TOKEN_DISTRICT.to_owned(),
        sub_district: None,
        department: None,
    })
}

/// A person whose token names their sub-district and department, as the
/// scope suites need: `person_in("s-1", &[Role::SubDistrictAdmin],
/// Some("jjs"), None)`.
pub fn person_in(
    staff_id: &str,
    roles: &[Role],
    sub_district: Option<&str>,
    department: Option<&str>,
) -> Principal {
    Principal::Person(Person {
        staff_id: staff_id.to_owned(),
        roles: roles.to_vec(),
        district: TOKEN_DISTRICT.to_owned(),
        sub_district: sub_district.map(str::to_owned),
        department: department.map(str::to_owned),
    })
}

/// `staff:admin-1`, a district admin: what every suite's clients are unless
/// they ask for someone else.
pub fn district_admin() -> Principal {
    person("admin-1", &[Role::DistrictAdmin])
}

/// `staff:auditor-1`, who alone reads the audit trail and changes nothing.
pub fn auditor() -> Principal {
    person("auditor-1", &[Role::Auditor])
}

/// A development key pair in a temporary folder: `jwks.json` and
/// `signing-key.pem`, what the sandbox's services verify and sign with.
pub struct TestKeys {
    pub keys: DevelopmentKeys,
    pub jwks_file: std::path::PathBuf,
    pub signing_key_file: std::path::PathBuf,
    _folder: tempfile::TempDir,
}

impl TestKeys {
    pub fn generate() -> Self {
        let folder = tempfile::tempdir().expect("a temporary folder");
        let keys = louyu_kit::identity::generate_development_keys(KeyAlgorithm::EdDsa)
            .expect("a development key pair");
        let (signing_key_file, jwks_file) = keys.write_to(folder.path()).expect("the keys written");
        Self {
            keys,
            jwks_file,
            signing_key_file,
            _folder: folder,
        }
    }

    /// Points `config` at these keys: it verifies with the JWKS and signs
    /// its own service tokens with the private key.
    pub fn apply_to(&self, config: &mut louyu_kit::config::Config) {
        config.jwks_file = Some(self.jwks_file.clone());
        config.signing_key_file = Some(self.signing_key_file.clone());
    }

    /// A token for `principal`, valid for an hour.
    pub fn token(&self, principal: &Principal) -> String {
        louyu_kit::identity::mint_token(
            &self.keys.signing_key,
            principal,
            &louyu_kit::identity::TokenOptions::default(),
        )
        .expect("a token")
    }
}
