//! Who is calling: the verified caller of a request as a typed value, the
//! roles of issue 8, and the tokens that carry them.
//!
//! A caller presents a short-lived JWT in `authorization: Bearer …`, signed
//! with an asymmetric key (ES256 or EdDSA) whose public half is in the
//! deployment's JWKS file ([`keys`]). [`Verifier::verify`] reads nothing but
//! the request metadata and returns the [`Caller`], or an [`AuthError`] that
//! says what was wrong and leaves as `UNAUTHENTICATED`. [`mint_token`] makes
//! such tokens, for `louyu token` and for tests.
//!
//! A Louyu service calling another presents its own (system) token and, when
//! it acts for a person, forwards that person's token in
//! `x-louyu-on-behalf-of`; the callee verifies both, so a service can neither
//! invent a person nor widen what a person may do.
//!
//! Tokens and keys are never logged: no `Debug` or error here prints one.
//!
//! The token, as [`mint_token`] writes it and [`Verifier`] expects it:
//!
//! - header: `alg` `ES256` or `EdDSA`, and `kid`, the id of a key in the
//!   JWKS file (by default the key's RFC 7638 thumbprint);
//! - `iss` and `aud`: the deployment's settings (`louyu` and `louyu` unless
//!   `LOUYU_TOKEN_ISSUER` and `LOUYU_TOKEN_AUDIENCE` say otherwise);
//! - `iat`, `nbf`, `exp`: seconds since the epoch, checked with a 30 s
//!   leeway;
//! - `kind`: `person` or `system`; `sub`: the staff id, or the system's name;
//! - `district`: must be the deployment's (`LOUYU_DISTRICT`);
//! - `roles`: role names (`field-worker`, `sub-district-admin`,
//!   `district-admin`, `department-officer`, `auditor`; `system` for a
//!   system); `sub_district` and `department`: ids, when the person has one.

pub mod keys;
mod mint;
mod serving;
mod verify;

pub use keys::{
    DevelopmentKeys, Jwk, JwkSet, KeyAlgorithm, KeyError, SIGNING_KEY_FILE_VARIABLE,
    SIGNING_KEY_ID_VARIABLE, SigningKey, generate_development_keys,
};
pub use mint::{MAX_TOKEN_TTL, MintError, TokenOptions, mint_token, mint_token_at};
pub use serving::{
    Authenticate, AuthenticateLayer, PeerInterceptor, ProcessIdentity, ServiceCredentials,
    caller_of, permission_of,
};
pub use verify::{
    AUTHORIZATION_METADATA_KEY, AuthError, DEFAULT_AUDIENCE, DEFAULT_ISSUER,
    DEV_DEPARTMENT_METADATA_KEY, DEV_ROLES_METADATA_KEY, DEV_SUB_DISTRICT_METADATA_KEY,
    IdentitySettings, LEEWAY, ON_BEHALF_OF_METADATA_KEY, Verifier,
};

use std::fmt;
use std::str::FromStr;

/// What a caller may be, as issue 8 names the roles. A person may hold
/// several; a system holds [`Role::System`] alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// 楼宇老师: visits the buildings and enterprises assigned to them and
    /// records what they see and the needs raised.
    FieldWorker,
    /// 街道管理员: runs one sub-district (street or town).
    SubDistrictAdmin,
    /// 区管理员: runs the district's deployment.
    DistrictAdmin,
    /// 职能部门人员: handles what is addressed to their department.
    DepartmentOfficer,
    /// 审计人员: reads everything, changes nothing, reads the audit trail.
    Auditor,
    /// Another government system (or a Louyu service acting on its own):
    /// signals and the feeds it is granted.
    System,
}

impl Role {
    /// Every role, in the order the permission table lists them.
    pub const ALL: [Role; 6] = [
        Role::FieldWorker,
        Role::SubDistrictAdmin,
        Role::DistrictAdmin,
        Role::DepartmentOfficer,
        Role::Auditor,
        Role::System,
    ];

    /// The role's name in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::FieldWorker => "field-worker",
            Role::SubDistrictAdmin => "sub-district-admin",
            Role::DistrictAdmin => "district-admin",
            Role::DepartmentOfficer => "department-officer",
            Role::Auditor => "auditor",
            Role::System => "system",
        }
    }

    /// The role's name as the district's staff say it.
    pub fn chinese_name(self) -> &'static str {
        match self {
            Role::FieldWorker => "楼宇老师",
            Role::SubDistrictAdmin => "街道管理员",
            Role::DistrictAdmin => "区管理员",
            Role::DepartmentOfficer => "职能部门人员",
            Role::Auditor => "审计人员",
            Role::System => "系统",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知角色 unknown role '{0}'")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }
}

/// A person: a member of the district's staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The staff id, as in `districts/{district}/staff/{staff}`.
    pub staff_id: String,
    /// At least one role, none of them [`Role::System`], sorted.
    pub roles: Vec<Role>,
    /// The district the person works in.
    pub district: String,
    /// The sub-district the person works for; `None` for district staff.
    pub sub_district: Option<String>,
    /// The department the person works in, for department officers.
    pub department: Option<String>,
}

/// A system: another government system, or a Louyu service acting on its
/// own behalf (a consumer reading a feed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemIdentity {
    /// The system's name, e.g. `visits` or `hotline-12345`.
    pub name: String,
    /// The district whose deployment it may call.
    pub district: String,
}

/// Who presented the token of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Person(Person),
    System(SystemIdentity),
}

impl Principal {
    pub fn district(&self) -> &str {
        match self {
            Principal::Person(person) => &person.district,
            Principal::System(system) => &system.district,
        }
    }

    /// How the audit trail names this party: `staff:s-001`, `system:visits`.
    pub fn audit_name(&self) -> String {
        match self {
            Principal::Person(person) => format!("staff:{}", person.staff_id),
            Principal::System(system) => format!("system:{}", system.name),
        }
    }
}

/// How the caller's identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// From a token whose signature, issuer, audience, times and district
    /// were checked.
    Verified,
    /// From `x-louyu-actor` in development mode (`LOUYU_DEV_IDENTITY=1`):
    /// nothing was checked, and the audit trail says so.
    UnverifiedDevelopment,
}

/// The caller of one request, as handlers and stores see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    principal: Principal,
    acting_for: Option<Person>,
    provenance: Provenance,
}

impl Caller {
    /// A person calling for themselves.
    pub fn from_person(person: Person, provenance: Provenance) -> Self {
        Self {
            principal: Principal::Person(person),
            acting_for: None,
            provenance,
        }
    }

    /// A system, on its own behalf or, with `acting_for`, for a person.
    pub fn from_system(
        system: SystemIdentity,
        acting_for: Option<Person>,
        provenance: Provenance,
    ) -> Self {
        Self {
            principal: Principal::System(system),
            acting_for,
            provenance,
        }
    }

    /// Who presented the request's token.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The person a system acts for, when it forwarded one.
    pub fn acting_for(&self) -> Option<&Person> {
        self.acting_for.as_ref()
    }

    pub fn provenance(&self) -> Provenance {
        self.provenance
    }

    pub fn is_verified(&self) -> bool {
        self.provenance == Provenance::Verified
    }

    /// The person whose data scope applies: the person a system acts for,
    /// or the calling person; `None` for a system on its own behalf.
    pub fn person(&self) -> Option<&Person> {
        match (&self.acting_for, &self.principal) {
            (Some(person), _) => Some(person),
            (None, Principal::Person(person)) => Some(person),
            (None, Principal::System(_)) => None,
        }
    }

    /// The roles permissions are judged by: the person's (acted for, or
    /// calling), or [`Role::System`] for a system on its own behalf. A
    /// service acting for a person may do what that person may do, no more.
    pub fn roles(&self) -> &[Role] {
        match self.person() {
            Some(person) => &person.roles,
            None => &[Role::System],
        }
    }

    /// The district of the caller, which a verifier has checked is the
    /// deployment's.
    pub fn district(&self) -> &str {
        self.principal.district()
    }

    /// How the audit trail records this caller: both parties of a
    /// service-to-service call, and a mark on an unverified development
    /// identity, e.g. `system:visits for staff:s-001`.
    pub fn audit_actor(&self) -> String {
        let mut actor = self.principal.audit_name();
        if let Some(person) = &self.acting_for {
            actor.push_str(" for staff:");
            actor.push_str(&person.staff_id);
        }
        if self.provenance == Provenance::UnverifiedDevelopment {
            actor.push_str(" (unverified)");
        }
        actor
    }
}

#[cfg(test)]
mod tests;
