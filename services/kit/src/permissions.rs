//! Who may call what: one table, method × role × scope, written once for
//! every service. [`authorize`] answers whether a caller may call a method
//! and under which data scope; the store applies that scope in its query.
//! `docs/permissions.md` is rendered from [`RULES`] by [`render_markdown`]
//! and a test fails when the two differ.
//!
//! A method with no rule is refused, and a test fails when an RPC of the
//! compiled descriptor set has no rule, so a new RPC cannot ship without
//! one.

use std::fmt;

use tonic::Status;

use crate::error::ServiceErrorCode;
use crate::identity::{Caller, Role};

use Access::{Read, Write};
use Role::{Auditor, DepartmentOfficer, DistrictAdmin, FieldWorker, SubDistrictAdmin, System};
use Scope::{District, OwnAssignments, OwnDepartment, OwnSubDistrict};

/// The part of the district's data a grant reaches. A store turns it into
/// a condition of its query, so that nothing outside it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// The buildings and enterprises assigned to the caller (registry
    /// assignments), and what hangs off them: units, tenancies, visits,
    /// demands, visit plans; for staff and assignments, the caller's own.
    OwnAssignments,
    /// The caller's sub-district: buildings it manages, and what hangs off
    /// them; staff who work for it.
    OwnSubDistrict,
    /// What is addressed to the caller's department: demands referred to
    /// it, and the enterprises and buildings of those demands; the
    /// department's own directory entry.
    OwnDepartment,
    /// The whole district of the deployment. No scope reaches another
    /// district: a token of another district is refused before this.
    District,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::OwnAssignments => "own assignments",
            Scope::OwnSubDistrict => "own sub-district",
            Scope::OwnDepartment => "own department",
            Scope::District => "district",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.describe())
    }
}

/// Whether a method only reads or also changes data. Out of scope, a read
/// answers NOT_FOUND (existence is not leaked) and a write to something the
/// caller may see answers PERMISSION_DENIED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn describe(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// One role's permission to call a method, and how far it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub role: Role,
    pub scope: Scope,
}

/// Who may call one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The fully qualified service, e.g. `louyu.registry.v1.RegistryService`.
    pub service: &'static str,
    /// The method, e.g. `GetBuilding`.
    pub method: &'static str,
    pub access: Access,
    /// At most one grant per role; a role not listed may not call.
    pub grants: &'static [Grant],
}

impl Rule {
    /// The gRPC path: `/louyu.registry.v1.RegistryService/GetBuilding`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.service, self.method)
    }

    /// The scope `role` is granted, if any.
    pub fn scope_of(&self, role: Role) -> Option<Scope> {
        self.grants
            .iter()
            .find(|grant| grant.role == role)
            .map(|grant| grant.scope)
    }
}

/// Services open to anyone, without a token: Kubernetes probes and
/// `grpcurl list` need them, and they reveal no data.
pub const OPEN_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

pub const REGISTRY: &str = "louyu.registry.v1.RegistryService";
pub const COUNCILS: &str = "louyu.registry.v1.BuildingCouncilService";
pub const VISITS: &str = "louyu.visits.v1.VisitsService";
pub const RISK: &str = "louyu.risk.v1.RiskService";
pub const REFERRAL: &str = "louyu.referral.v1.ReferralService";
pub const OPERATIONS: &str = "google.longrunning.Operations";
pub const AUDIT: &str = "louyu.common.v1.AuditService";
pub const EVENT_FEED: &str = "louyu.common.v1.EventFeedService";

const fn grant(role: Role, scope: Scope) -> Grant {
    Grant { role, scope }
}

const fn rule(
    service: &'static str,
    method: &'static str,
    access: Access,
    grants: &'static [Grant],
) -> Rule {
    Rule {
        service,
        method,
        access,
        grants,
    }
}

/// Reference data every member of staff reads across the district: the
/// district, its sub-districts, the department directory, the cadence.
const STAFF_DIRECTORY: &[Grant] = &[
    grant(FieldWorker, District),
    grant(SubDistrictAdmin, District),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, District),
    grant(Auditor, District),
];

/// What serves enterprises beyond one building or sub-district: vacant
/// units and the 500-metre service circle of building resources, with what
/// each offers and when.
const DISTRICT_SERVICE_MAP: &[Grant] = STAFF_DIRECTORY;

/// The department directory and the vacant units, read by every member of
/// staff as [`STAFF_DIRECTORY`] and [`DISTRICT_SERVICE_MAP`] are, and also by
/// a system: Louyu's referral service calls as one while it follows a feed,
/// and routes by them, sending a demand to the department that handles its
/// category and offering an enterprise that needs more room the vacant units
/// nearest its building. Neither holds personal data (a department's phone
/// is its office's, a vacant unit names no tenant), so a system reads them
/// at district scope as staff do.
const READ_FOR_REFERRAL: &[Grant] = &[
    grant(FieldWorker, District),
    grant(SubDistrictAdmin, District),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, District),
    grant(Auditor, District),
    grant(System, District),
];

/// Places and enterprises: field workers see what they are assigned,
/// sub-district admins their sub-district, department officers what their
/// department's demands concern.
const PLACES_AND_ENTERPRISES: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, OwnDepartment),
    grant(Auditor, District),
];

/// A place or an enterprise looked up by name. A system may too: a signal
/// it raises names an enterprise, and the demand records the enterprise's
/// building (contacts reach a system masked).
const PLACE_OR_ENTERPRISE_LOOKUP: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, OwnDepartment),
    grant(Auditor, District),
    grant(System, District),
];

/// Tenancies, which a system raising a signal also reads to find where the
/// enterprise is.
const TENANCY_RECORDS: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(Auditor, District),
    grant(System, District),
];

/// Detail of the places themselves (units, tenancies, visits, plans), which
/// departments do not need.
const FIELD_RECORDS: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(Auditor, District),
];

/// Staff: a field worker sees the colleagues of their sub-district (a visit
/// names who went together).
const STAFF_RECORDS: &[Grant] = &[
    grant(FieldWorker, OwnSubDistrict),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(Auditor, District),
];

/// Changes to the places of a sub-district and who covers them.
const SUB_DISTRICT_ADMINISTRATION: &[Grant] = &[
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
];

/// Changes only the district makes.
const DISTRICT_ADMINISTRATION: &[Grant] = &[grant(DistrictAdmin, District)];

/// What the district's own work reads: district admins, and auditors.
const DISTRICT_OVERSIGHT: &[Grant] = &[grant(DistrictAdmin, District), grant(Auditor, District)];

/// Demands: raised by who visits, followed by the sub-district, handled by
/// the department they are addressed to.
const DEMAND_RECORDS: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, OwnDepartment),
    grant(Auditor, District),
];

/// A department's work on what is referred to it; admins may act for a
/// department that has no login of its own.
const DEPARTMENT_WORK: &[Grant] = &[
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
    grant(DepartmentOfficer, OwnDepartment),
];

/// Recording a visit: who walks the buildings.
const RECORD_VISITS: &[Grant] = &[
    grant(FieldWorker, OwnAssignments),
    grant(SubDistrictAdmin, OwnSubDistrict),
    grant(DistrictAdmin, District),
];

/// The permission table. Every RPC of every Louyu service has exactly one
/// rule; `AuditService` and `EventFeedService` are served by every service
/// under the same rule.
pub const RULES: &[Rule] = &[
    // Registry: the district and its sub-districts.
    rule(
        REGISTRY,
        "GetDistrict",
        Read,
        &[
            grant(FieldWorker, District),
            grant(SubDistrictAdmin, District),
            grant(DistrictAdmin, District),
            grant(DepartmentOfficer, District),
            grant(Auditor, District),
            grant(System, District),
        ],
    ),
    rule(
        REGISTRY,
        "CreateSubDistrict",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "GetSubDistrict", Read, STAFF_DIRECTORY),
    rule(REGISTRY, "ListSubDistricts", Read, STAFF_DIRECTORY),
    // Buildings and units.
    rule(
        REGISTRY,
        "CreateBuilding",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "GetBuilding", Read, PLACE_OR_ENTERPRISE_LOOKUP),
    rule(REGISTRY, "ListBuildings", Read, PLACES_AND_ENTERPRISES),
    rule(
        REGISTRY,
        "UpdateBuilding",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "CreateUnit", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(REGISTRY, "GetUnit", Read, FIELD_RECORDS),
    rule(REGISTRY, "ListUnits", Read, FIELD_RECORDS),
    rule(REGISTRY, "UpdateUnit", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(REGISTRY, "ListVacantUnits", Read, READ_FOR_REFERRAL),
    // Enterprises and tenancies.
    rule(
        REGISTRY,
        "CreateEnterprise",
        Write,
        &[
            grant(SubDistrictAdmin, District),
            grant(DistrictAdmin, District),
        ],
    ),
    rule(REGISTRY, "GetEnterprise", Read, PLACE_OR_ENTERPRISE_LOOKUP),
    rule(REGISTRY, "ListEnterprises", Read, PLACES_AND_ENTERPRISES),
    rule(
        REGISTRY,
        "UpdateEnterprise",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REGISTRY,
        "CreateTenancy",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "GetTenancy", Read, FIELD_RECORDS),
    rule(REGISTRY, "ListTenancies", Read, TENANCY_RECORDS),
    rule(REGISTRY, "EndTenancy", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(
        REGISTRY,
        "MoveEnterprise",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    // Staff and assignments.
    rule(REGISTRY, "CreateStaff", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(REGISTRY, "GetStaff", Read, STAFF_RECORDS),
    rule(REGISTRY, "ListStaff", Read, STAFF_RECORDS),
    rule(REGISTRY, "UpdateStaff", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(
        REGISTRY,
        "CreateAssignment",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "ListAssignments", Read, FIELD_RECORDS),
    rule(
        REGISTRY,
        "DeleteAssignment",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    // The department directory.
    rule(REGISTRY, "CreateDepartment", Write, DISTRICT_ADMINISTRATION),
    rule(REGISTRY, "GetDepartment", Read, READ_FOR_REFERRAL),
    rule(REGISTRY, "ListDepartments", Read, READ_FOR_REFERRAL),
    rule(
        REGISTRY,
        "UpdateDepartment",
        Write,
        &[
            grant(DistrictAdmin, District),
            grant(DepartmentOfficer, OwnDepartment),
        ],
    ),
    // Building resources.
    rule(
        REGISTRY,
        "CreateBuildingResource",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REGISTRY,
        "ListBuildingResources",
        Read,
        DISTRICT_SERVICE_MAP,
    ),
    rule(
        REGISTRY,
        "SearchNearbyResources",
        Read,
        DISTRICT_SERVICE_MAP,
    ),
    // What each resource offers and when: changed by the sub-district of
    // the resource's building (the district for a resource outside any
    // building), read as the resources are.
    rule(
        REGISTRY,
        "CreateOffering",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REGISTRY, "GetOffering", Read, DISTRICT_SERVICE_MAP),
    rule(REGISTRY, "ListOfferings", Read, DISTRICT_SERVICE_MAP),
    rule(
        REGISTRY,
        "UpdateOffering",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REGISTRY,
        "DeleteOffering",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    // Bulk loading.
    rule(REGISTRY, "ImportRecords", Write, DISTRICT_ADMINISTRATION),
    // Building councils: kept by the sub-district; the field worker records
    // for the council what it proposes, nominates, objects and meets on;
    // the sub-district appoints the chief.
    rule(
        COUNCILS,
        "CreateCouncilMember",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(COUNCILS, "GetCouncilMember", Read, FIELD_RECORDS),
    rule(COUNCILS, "ListCouncilMembers", Read, FIELD_RECORDS),
    rule(
        COUNCILS,
        "UpdateCouncilMember",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(COUNCILS, "NominateChief", Write, RECORD_VISITS),
    rule(COUNCILS, "GetChiefAppointment", Read, FIELD_RECORDS),
    rule(COUNCILS, "ListChiefAppointments", Read, FIELD_RECORDS),
    rule(
        COUNCILS,
        "StartChiefNotice",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(COUNCILS, "ObjectToChief", Write, RECORD_VISITS),
    rule(
        COUNCILS,
        "ResolveChiefObjection",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(COUNCILS, "AppointChief", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(COUNCILS, "EndChiefTerm", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(COUNCILS, "CreateCouncilMeeting", Write, RECORD_VISITS),
    rule(COUNCILS, "GetCouncilMeeting", Read, FIELD_RECORDS),
    rule(COUNCILS, "ListCouncilMeetings", Read, FIELD_RECORDS),
    rule(COUNCILS, "CreateProject", Write, RECORD_VISITS),
    rule(COUNCILS, "GetProject", Read, FIELD_RECORDS),
    rule(COUNCILS, "ListProjects", Read, FIELD_RECORDS),
    rule(COUNCILS, "UpdateProject", Write, RECORD_VISITS),
    rule(COUNCILS, "TransitionProject", Write, RECORD_VISITS),
    // Visits.
    rule(VISITS, "SubmitVisit", Write, RECORD_VISITS),
    rule(VISITS, "GetVisit", Read, FIELD_RECORDS),
    rule(VISITS, "ListVisits", Read, FIELD_RECORDS),
    // Demands.
    rule(
        VISITS,
        "CreateDemand",
        Write,
        &[
            grant(FieldWorker, OwnAssignments),
            grant(SubDistrictAdmin, OwnSubDistrict),
            grant(DistrictAdmin, District),
            grant(System, District),
        ],
    ),
    rule(VISITS, "GetDemand", Read, DEMAND_RECORDS),
    rule(VISITS, "ListDemands", Read, DEMAND_RECORDS),
    rule(
        VISITS,
        "TransitionDemand",
        Write,
        &[
            grant(FieldWorker, OwnAssignments),
            grant(SubDistrictAdmin, OwnSubDistrict),
            grant(DistrictAdmin, District),
            grant(DepartmentOfficer, OwnDepartment),
        ],
    ),
    rule(VISITS, "MergeDemands", Write, SUB_DISTRICT_ADMINISTRATION),
    rule(VISITS, "CountDemands", Read, DEMAND_RECORDS),
    // Visit plans and cadence.
    rule(VISITS, "ListDueVisits", Read, FIELD_RECORDS),
    rule(VISITS, "GetVisitPlan", Read, FIELD_RECORDS),
    rule(VISITS, "GetCadencePolicy", Read, STAFF_DIRECTORY),
    rule(
        VISITS,
        "UpdateCadencePolicy",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    // Risk: the colours are read as the enterprises are; signals come from
    // other systems; the rules are everyone's to read.
    rule(RISK, "GetAssessment", Read, PLACES_AND_ENTERPRISES),
    rule(RISK, "ListAssessments", Read, PLACES_AND_ENTERPRISES),
    rule(RISK, "ListAssessmentChanges", Read, PLACES_AND_ENTERPRISES),
    rule(RISK, "SummarizeAssessments", Read, PLACES_AND_ENTERPRISES),
    rule(
        RISK,
        "SetColourOverride",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        RISK,
        "ClearColourOverride",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(RISK, "ListSignals", Read, PLACES_AND_ENTERPRISES),
    rule(RISK, "RecordSignal", Write, &[grant(System, District)]),
    rule(RISK, "GetRules", Read, STAFF_DIRECTORY),
    rule(RISK, "DryRunRules", Read, DISTRICT_OVERSIGHT),
    rule(RISK, "ActivateRules", Write, DISTRICT_ADMINISTRATION),
    // Referral: read as demands are; the lead department moves its
    // referrals, the field worker records the enterprise's word, admins
    // route, suspend and extend (the approval), the district rules on
    // disputes and writes the rules.
    rule(
        REFERRAL,
        "CreateReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REFERRAL, "GetReferral", Read, DEMAND_RECORDS),
    rule(REFERRAL, "ListReferrals", Read, DEMAND_RECORDS),
    rule(
        REFERRAL,
        "ListDepartmentReferrals",
        Read,
        &[
            grant(SubDistrictAdmin, OwnSubDistrict),
            grant(DistrictAdmin, District),
            grant(DepartmentOfficer, OwnDepartment),
            grant(Auditor, District),
        ],
    ),
    rule(REFERRAL, "AcceptReferral", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "RejectReferral", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "RecordFirstContact", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "StartReferral", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "CompleteReferral", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "FailReferral", Write, DEPARTMENT_WORK),
    rule(REFERRAL, "ConfirmReferral", Write, RECORD_VISITS),
    rule(
        REFERRAL,
        "CancelReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REFERRAL,
        "RerouteReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REFERRAL,
        "SplitReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REFERRAL,
        "SuspendReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REFERRAL,
        "ResumeReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(
        REFERRAL,
        "ExtendReferral",
        Write,
        SUB_DISTRICT_ADMINISTRATION,
    ),
    rule(REFERRAL, "GetRetentionCase", Read, DEMAND_RECORDS),
    rule(REFERRAL, "ListRetentionCases", Read, DEMAND_RECORDS),
    rule(REFERRAL, "ExcludeReferral", Write, DISTRICT_ADMINISTRATION),
    rule(REFERRAL, "ComputeScorecard", Read, DISTRICT_OVERSIGHT),
    rule(REFERRAL, "GetRoutingRules", Read, STAFF_DIRECTORY),
    rule(
        REFERRAL,
        "UpdateRoutingRules",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    // The notification outbox: the district runs the webhook to its own
    // systems, sees what could not be delivered and sends it again.
    rule(REFERRAL, "ListNotifications", Read, DISTRICT_OVERSIGHT),
    rule(
        REFERRAL,
        "ReplayNotification",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    // Long-running operations (rule activation): started by district
    // admins, followed by them and by auditors; never cancelled or deleted.
    rule(OPERATIONS, "ListOperations", Read, DISTRICT_OVERSIGHT),
    rule(OPERATIONS, "GetOperation", Read, DISTRICT_OVERSIGHT),
    rule(OPERATIONS, "WaitOperation", Read, DISTRICT_OVERSIGHT),
    rule(
        OPERATIONS,
        "CancelOperation",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    rule(
        OPERATIONS,
        "DeleteOperation",
        Write,
        DISTRICT_ADMINISTRATION,
    ),
    // Every service's audit trail and event feed.
    rule(AUDIT, "ListAuditRecords", Read, &[grant(Auditor, District)]),
    rule(
        EVENT_FEED,
        "WatchEvents",
        Read,
        &[
            grant(DistrictAdmin, District),
            grant(Auditor, District),
            grant(System, District),
        ],
    ),
];

/// The rule of a method, by its gRPC path (`/package.Service/Method`; the
/// leading `/` may be left out).
pub fn rule_for(path: &str) -> Option<&'static Rule> {
    let (service, method) = path.strip_prefix('/').unwrap_or(path).split_once('/')?;
    RULES
        .iter()
        .find(|rule| rule.service == service && rule.method == method)
}

/// The methods of [`OPEN_SERVICES`].
const OPEN_METHODS: &[&str] = &[
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
    "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Whether `path` names a method some Louyu server has: one with a rule,
/// or one of health or reflection. Any other path is the caller's to
/// choose, so it is never a metric's label.
pub fn is_known(path: &str) -> bool {
    let path = path.strip_prefix('/').unwrap_or(path);
    OPEN_METHODS.contains(&path) || rule_for(path).is_some()
}

/// Whether a method is open to anyone, with no caller at all: health and
/// reflection.
pub fn is_open(path: &str) -> bool {
    let path = path.strip_prefix('/').unwrap_or(path);
    OPEN_SERVICES.iter().any(|service| {
        path.strip_prefix(service)
            .is_some_and(|method| method.starts_with('/'))
    })
}

/// The scopes a caller is granted on one method: `District` alone, or one
/// or more narrower scopes that the query joins with OR (a person may hold
/// several roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    fn from_grants(mut scopes: Vec<Scope>) -> Self {
        if scopes.contains(&Scope::District) {
            return Self(vec![Scope::District]);
        }
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    pub fn is_district(&self) -> bool {
        self.0 == [Scope::District]
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }
}

/// What a caller may do with one method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub access: Access,
    pub scopes: Scopes,
}

/// Why a caller may not call a method. Leaves as PERMISSION_DENIED, but for
/// a method that no rule names: every RPC of the descriptor set has a rule
/// (a test below holds it), so that method exists nowhere and leaves as
/// UNIMPLEMENTED, as gRPC's convention has it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("无权调用 {method}: permission denied: no role of the caller may call {method}")]
    RoleNotAllowed { method: String },
    #[error(
        "无权调用 {method}: permission denied: the caller's role reaches its own {missing}, and the token names none"
    )]
    ScopeUnknown {
        method: String,
        missing: &'static str,
    },
    #[error("未知方法 {method}: unimplemented: no Louyu service has this method")]
    UnknownMethod { method: String },
}

impl PermissionError {
    /// `PermissionDenied` (403 on the gateway's REST side), but
    /// `Unimplemented` for a method that does not exist.
    pub fn error_code(&self) -> ServiceErrorCode {
        match self {
            PermissionError::UnknownMethod { .. } => ServiceErrorCode::Unimplemented,
            PermissionError::RoleNotAllowed { .. } | PermissionError::ScopeUnknown { .. } => {
                ServiceErrorCode::PermissionDenied
            }
        }
    }

    pub fn into_status(self) -> Status {
        Status::new(self.error_code().grpc_code(), self.to_string())
    }
}

impl From<PermissionError> for Status {
    fn from(error: PermissionError) -> Self {
        error.into_status()
    }
}

/// May `caller` call the method at `path`, and under which scopes? Judged
/// by [`Caller::roles`]: a service acting for a person is judged as that
/// person. A grant to the caller's own sub-district or department applies
/// only when the token names one. Open methods need no caller: check
/// [`is_open`] first.
pub fn authorize(caller: &Caller, path: &str) -> Result<Permission, PermissionError> {
    let method = path.strip_prefix('/').unwrap_or(path).to_owned();
    let rule = rule_for(path).ok_or_else(|| PermissionError::UnknownMethod {
        method: method.clone(),
    })?;
    let person = caller.person();
    let mut scopes = Vec::new();
    let mut missing = None;
    for role in caller.roles() {
        let Some(scope) = rule.scope_of(*role) else {
            continue;
        };
        let known = match scope {
            Scope::OwnSubDistrict => person.is_some_and(|person| person.sub_district.is_some()),
            Scope::OwnDepartment => person.is_some_and(|person| person.department.is_some()),
            Scope::OwnAssignments => person.is_some(),
            Scope::District => true,
        };
        if known {
            scopes.push(scope);
        } else {
            missing = Some(match scope {
                Scope::OwnDepartment => "department",
                Scope::OwnSubDistrict => "sub-district",
                _ => "staff id",
            });
        }
    }
    if scopes.is_empty() {
        return Err(match missing {
            Some(missing) => PermissionError::ScopeUnknown { method, missing },
            None => PermissionError::RoleNotAllowed { method },
        });
    }
    Ok(Permission {
        access: rule.access,
        scopes: Scopes::from_grants(scopes),
    })
}

/// The roles that see enterprises' contact details (contacts, council
/// members, building chiefs) as they are: those who call on the enterprise
/// or act for it. Auditors and systems on their own behalf see them masked,
/// in responses as in events; every unmasked read is audited.
pub const ROLES_SEEING_CONTACTS: &[Role] = &[
    FieldWorker,
    SubDistrictAdmin,
    DistrictAdmin,
    DepartmentOfficer,
];

/// Whether `caller` sees contact details unmasked: judged, like every
/// permission, by the person a service acts for.
pub fn sees_contacts(caller: &Caller) -> bool {
    caller
        .roles()
        .iter()
        .any(|role| ROLES_SEEING_CONTACTS.contains(role))
}

/// Why the table says what it says: the head of `docs/permissions.md`.
const INTRODUCTION: &str = "\
# Permissions

<!-- Generated from services/kit/src/permissions.rs (RULES). Do not edit by hand: run
     `LOUYU_WRITE_PERMISSIONS_DOC=1 cargo test -p louyu-kit --lib permissions` to regenerate. -->

Every method of every Louyu service needs a verified caller (see `louyu_kit::identity`), except
health (`grpc.health.v1.Health`) and reflection (`grpc.reflection.v1.ServerReflection`,
`grpc.reflection.v1alpha.ServerReflection`), which are open to anyone for Kubernetes probes and
`grpcurl list`. For each method the table says which roles may call it and how far into the
district's data each role reaches. A role without an entry may not call the method
(PERMISSION_DENIED). A method without a rule is refused, and a test fails when an RPC has none.

Scopes: **own assignments** are the buildings and enterprises assigned to the caller in the
registry (and their units, tenancies, visits, demands and plans; for staff and assignments, the
caller's own); **own sub-district** is what the caller's sub-district manages; **own department**
is what is addressed to the caller's department; **district** is the whole deployment. Nobody
reaches another district: its tokens are refused. Scope is applied in the query: out of scope, a
read answers NOT_FOUND and a write to something the caller may see answers PERMISSION_DENIED. A
person with several roles gets the union of their scopes. A service acting for a person is judged
as that person, so it can never reach further than the person could. A write that touches two
places needs both in scope: a sub-district admin moves an enterprise within their sub-district;
a move across sub-districts is the district's.

Contact details of enterprises (their contacts, building council members, building chiefs) are
personal data. Field workers, sub-district admins, district admins and department officers, who
call on enterprises, see them; auditors and systems see them masked (`张**`, `138****5678`),
and events never carry them. Every read that shows them unmasked is itself recorded in the
audit trail (method `DiscloseContacts/<the read>`, one record per enterprise or building), so the district can say who saw whose personal data,
as China's Personal Information Protection Law expects.

Why the rules are as they are. Field workers (楼宇老师, the \"两新老师\" who walk the buildings)
visit the buildings and enterprises assigned to them, record visits and the needs (诉求) they
hear, and go back to the enterprise to confirm a need is solved, so they read and record within
their assignments and may move a demand's status there. Sub-district admins (街道) run the
buildings of their street or town: who covers them, their enterprises, tenancies and demands,
the resources in them and what those offer. Registering an enterprise is district-wide for them,
because an enterprise belongs to no sub-district until a tenancy places it, and the tenancy is
scoped. District admins (区) run the
deployment: sub-districts, the department directory, the visit cadence, bulk imports, and the
referral service's notification outbox, the webhook that carries dispatches, warnings, breaches,
escalations and retention cases to the district's own WeCom, SMS or e-mail: they see what could
not be delivered and send it again, and auditors read it. Department
officers (职能部门, e.g. the district investment office) see and handle the demands referred to
their department, with the enterprises and buildings those demands concern, and keep their own
directory entry. Everyone on the staff reads the district's reference data (sub-districts,
departments, the cadence) and the service map (vacant units, building resources and what each
offers and when, the 500-metre service circle), because keeping an enterprise in the district
means looking beyond one building or street, as when a growing firm is found a new unit in
another building, and none of it is personal data. Auditors (审计) read everything at district
scope, change nothing, and alone read the audit trail, so those who change data do not also read
the record of their changes. Other
government systems (系统) raise signals as demands, look up the enterprise and building a signal
names and where the enterprise is (its tenancies), and follow the event feeds a deployment grants
them (`LOUYU_FEED_READERS` of the service whose feed it is); Louyu's own services follow each
other's feeds as systems. The referral service, following a feed as a system, also reads the
department directory and the vacant units, to send a need to the department that handles it and
to offer an enterprise that needs more room the vacant units nearest its building; neither holds
personal data.
";

/// `docs/permissions.md`, rendered from [`RULES`].
pub fn render_markdown() -> String {
    let mut markdown = String::from(INTRODUCTION);
    let services = [
        (REGISTRY, "Registry"),
        (COUNCILS, "Building councils (registry)"),
        (VISITS, "Visits"),
        (RISK, "Risk"),
        (REFERRAL, "Referral"),
        (OPERATIONS, "Long-running operations (risk)"),
        (AUDIT, "Audit trail (every service)"),
        (EVENT_FEED, "Event feed (every service)"),
    ];
    for (service, title) in services {
        markdown.push_str(&format!("\n## {title}: `{service}`\n\n"));
        markdown.push_str("| method | access |");
        for role in Role::ALL {
            markdown.push_str(&format!(" {} {} |", role.as_str(), role.chinese_name()));
        }
        markdown.push_str("\n| --- | --- |");
        for _ in Role::ALL {
            markdown.push_str(" --- |");
        }
        markdown.push('\n');
        for rule in RULES.iter().filter(|rule| rule.service == service) {
            markdown.push_str(&format!(
                "| `{}` | {} |",
                rule.method,
                rule.access.describe()
            ));
            for role in Role::ALL {
                let cell = rule.scope_of(role).map_or("—", Scope::describe);
                markdown.push_str(&format!(" {cell} |"));
            }
            markdown.push('\n');
        }
    }
    markdown.push_str("\n## Open to anyone\n\n");
    for service in OPEN_SERVICES {
        markdown.push_str(&format!("- `{service}`\n"));
    }
    markdown
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;
    use crate::identity::{Person, Provenance, SystemIdentity};

    fn person(roles: &[Role], sub_district: Option<&str>, department: Option<&str>) -> Caller {
        Caller::from_person(
            Person {
                staff_id: "s-001".into(),
                roles: roles.to_vec(),
                district: "jingan".into(),
                sub_district: sub_district.map(str::to_owned),
                department: department.map(str::to_owned),
            },
            Provenance::Verified,
        )
    }

    fn system() -> Caller {
        Caller::from_system(
            SystemIdentity {
                name: "hotline-12345".into(),
                district: "jingan".into(),
            },
            None,
            Provenance::Verified,
        )
    }

    /// Every RPC of the compiled descriptor set, as `/package.Service/Method`.
    fn descriptor_paths() -> BTreeSet<String> {
        let set = prost_types::FileDescriptorSet::decode(louyu_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set decodes");
        let mut paths = BTreeSet::new();
        for file in set.file {
            for service in &file.service {
                for method in &service.method {
                    paths.insert(format!(
                        "/{}.{}/{}",
                        file.package(),
                        service.name(),
                        method.name()
                    ));
                }
            }
        }
        paths
    }

    #[test]
    fn every_rpc_of_the_descriptor_set_has_a_rule() {
        let paths = descriptor_paths();
        assert!(paths.contains("/louyu.registry.v1.RegistryService/GetBuilding"));
        let missing: Vec<_> = paths
            .iter()
            .filter(|path| rule_for(path).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "these RPCs have no rule in services/kit/src/permissions.rs (RULES): {missing:?}"
        );
    }

    #[test]
    fn every_rule_names_an_rpc_once() {
        let paths = descriptor_paths();
        let mut seen = BTreeSet::new();
        for rule in RULES {
            assert!(
                paths.contains(&rule.path()),
                "{} is not an RPC",
                rule.path()
            );
            assert!(seen.insert(rule.path()), "{} has two rules", rule.path());
            let roles: BTreeSet<_> = rule.grants.iter().map(|grant| grant.role).collect();
            assert_eq!(
                roles.len(),
                rule.grants.len(),
                "{}: a role twice",
                rule.path()
            );
            assert!(
                !rule.grants.is_empty(),
                "{}: nobody may call it",
                rule.path()
            );
        }
    }

    #[test]
    fn auditors_read_everything_in_the_district_and_change_nothing() {
        for rule in RULES {
            let scope = rule.scope_of(Role::Auditor);
            match rule.access {
                Access::Read => assert_eq!(scope, Some(Scope::District), "{}", rule.path()),
                Access::Write => assert_eq!(scope, None, "{}", rule.path()),
            }
        }
    }

    #[test]
    fn only_auditors_read_the_audit_trail() {
        let rule = rule_for("/louyu.common.v1.AuditService/ListAuditRecords").unwrap();
        assert_eq!(rule.grants, &[grant(Role::Auditor, Scope::District)]);
    }

    #[test]
    fn a_system_raises_demands_reads_feeds_and_what_signals_and_referrals_need() {
        let granted: BTreeSet<_> = RULES
            .iter()
            .filter(|rule| rule.scope_of(Role::System).is_some())
            .map(|rule| rule.method)
            .collect();
        assert_eq!(
            granted,
            BTreeSet::from([
                "CreateDemand",
                "GetBuilding",
                "GetDepartment",
                "GetDistrict",
                "GetEnterprise",
                "ListDepartments",
                "ListTenancies",
                "ListVacantUnits",
                "RecordSignal",
                "WatchEvents"
            ])
        );
    }

    #[test]
    fn scoped_roles_never_reach_the_district_with_a_write() {
        for rule in RULES.iter().filter(|rule| rule.access == Access::Write) {
            for role in [Role::FieldWorker, Role::DepartmentOfficer] {
                assert_ne!(
                    rule.scope_of(role),
                    Some(Scope::District),
                    "{} for {role}",
                    rule.path()
                );
            }
        }
    }

    #[test]
    fn health_and_reflection_are_open_and_nothing_else_is() {
        assert!(is_open("/grpc.health.v1.Health/Check"));
        assert!(is_open("/grpc.health.v1.Health/Watch"));
        assert!(is_open(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
        ));
        assert!(is_open(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
        ));
        for path in descriptor_paths() {
            assert!(!is_open(&path), "{path}");
        }
        assert!(!is_open("/grpc.health.v1.Healthy/Check"));
        assert!(is_known("grpc.health.v1.Health/Check"));
        assert!(is_known("/louyu.registry.v1.RegistryService/GetEnterprise"));
        assert!(!is_known("grpc.health.v1.Health/Made-up"));
        assert!(!is_known("louyu.registry.v1.RegistryService/Made-up"));
    }

    #[test]
    fn a_field_worker_reads_buildings_of_their_assignments_and_cannot_create_one() {
        let caller = person(&[Role::FieldWorker], Some("jingansi"), None);
        let permission =
            authorize(&caller, "/louyu.registry.v1.RegistryService/GetBuilding").expect("allowed");
        assert_eq!(permission.access, Access::Read);
        assert_eq!(permission.scopes.as_slice(), &[Scope::OwnAssignments]);
        let error =
            authorize(&caller, "/louyu.registry.v1.RegistryService/CreateBuilding").unwrap_err();
        assert!(matches!(error, PermissionError::RoleNotAllowed { .. }));
        let status = error.into_status();
        assert_eq!(status.code(), tonic::Code::PermissionDenied);
        assert!(status.message().starts_with("无权调用"));
        assert!(status.message().contains("CreateBuilding"));
    }

    #[test]
    fn a_sub_district_admin_without_a_sub_district_in_the_token_is_refused() {
        let caller = person(&[Role::SubDistrictAdmin], None, None);
        assert!(matches!(
            authorize(&caller, "louyu.registry.v1.RegistryService/UpdateBuilding"),
            Err(PermissionError::ScopeUnknown {
                missing: "sub-district",
                ..
            })
        ));
        let caller = person(&[Role::SubDistrictAdmin], Some("jingansi"), None);
        let permission =
            authorize(&caller, "louyu.registry.v1.RegistryService/UpdateBuilding").unwrap();
        assert_eq!(permission.access, Access::Write);
        assert_eq!(permission.scopes.as_slice(), &[Scope::OwnSubDistrict]);
    }

    #[test]
    fn several_roles_get_the_union_of_their_scopes_and_district_covers_all() {
        let caller = person(
            &[Role::FieldWorker, Role::DepartmentOfficer],
            Some("jingansi"),
            Some("investment-office"),
        );
        let permission = authorize(&caller, "/louyu.visits.v1.VisitsService/ListDemands").unwrap();
        assert_eq!(
            permission.scopes.as_slice(),
            &[Scope::OwnAssignments, Scope::OwnDepartment]
        );
        let caller = person(&[Role::FieldWorker, Role::Auditor], Some("jingansi"), None);
        let permission = authorize(&caller, "/louyu.visits.v1.VisitsService/ListDemands").unwrap();
        assert!(permission.scopes.is_district());
    }

    #[test]
    fn a_service_acting_for_a_person_is_judged_as_the_person() {
        let field_worker = Person {
            staff_id: "s-001".into(),
            roles: vec![Role::FieldWorker],
            district: "jingan".into(),
            sub_district: Some("jingansi".into()),
            department: None,
        };
        let caller = Caller::from_system(
            SystemIdentity {
                name: "visits".into(),
                district: "jingan".into(),
            },
            Some(field_worker),
            Provenance::Verified,
        );
        let permission =
            authorize(&caller, "/louyu.registry.v1.RegistryService/GetBuilding").unwrap();
        assert_eq!(permission.scopes.as_slice(), &[Scope::OwnAssignments]);
        assert!(authorize(&caller, "/louyu.common.v1.EventFeedService/WatchEvents").is_err());
        let on_its_own = system();
        assert!(
            authorize(&on_its_own, "/louyu.common.v1.EventFeedService/WatchEvents")
                .unwrap()
                .scopes
                .is_district()
        );
        assert!(
            authorize(
                &on_its_own,
                "/louyu.registry.v1.RegistryService/UpdateBuilding"
            )
            .is_err()
        );
    }

    #[test]
    fn a_method_without_a_rule_is_refused() {
        let caller = person(&[Role::DistrictAdmin], None, None);
        assert!(matches!(
            authorize(&caller, "/louyu.registry.v1.RegistryService/DropEverything"),
            Err(PermissionError::UnknownMethod { .. })
        ));
        assert!(matches!(
            authorize(&caller, "garbage"),
            Err(PermissionError::UnknownMethod { .. })
        ));
    }

    #[test]
    fn a_district_admin_may_call_every_method_but_the_audit_trail_and_systems_signals() {
        let caller = person(&[Role::DistrictAdmin], None, None);
        for rule in RULES {
            let result = authorize(&caller, &rule.path());
            if rule.service == AUDIT || rule.method == "RecordSignal" {
                assert!(result.is_err());
            } else {
                assert!(result.unwrap().scopes.is_district(), "{}", rule.path());
            }
        }
    }

    #[test]
    fn docs_permissions_md_is_the_rendering_of_the_table() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/permissions.md");
        let rendered = render_markdown();
        if std::env::var("LOUYU_WRITE_PERMISSIONS_DOC").is_ok_and(|value| value == "1") {
            std::fs::write(&path, &rendered).expect("docs/permissions.md is written");
            return;
        }
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            written == rendered,
            "docs/permissions.md differs from the permission table; regenerate it with \
             `LOUYU_WRITE_PERMISSIONS_DOC=1 cargo test -p louyu-kit --lib permissions`"
        );
    }
}
