//! Whether a viewer may see an event, as the owning service says: the
//! resource the event is about is read with the viewer's own token through
//! the service that owns it (its Get), and the event goes to the viewer
//! only when the read succeeds, with what the read returned (so the owner's
//! scope and masking apply). An event of a kind the gateway cannot read
//! back is not relayed at all: the stream fails closed.

use louyu_kit::config::ServiceName;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor, Value};

/// The reads that decide visibility, resolved once at start.
pub struct Reads {
    get_district: MethodDescriptor,
    by_collection: Vec<(ServiceName, &'static str, MethodDescriptor, &'static str)>,
    timestamp: MessageDescriptor,
}

/// The read of an event's resource: the method, and its request.
pub struct Read<'a> {
    pub rpc: &'a MethodDescriptor,
    pub name: String,
}

impl Read<'_> {
    pub fn request(&self) -> DynamicMessage {
        let mut input = DynamicMessage::new(self.rpc.input());
        input.set_field_by_name("name", Value::String(self.name.clone()));
        input
    }
}

/// Which Get reads the resources of each collection of each feed, and
/// what it appends to the event's resource name (`/assessment` for risk,
/// whose events name the enterprise).
const READS: &[(ServiceName, &str, &str, &str, &str)] = &[
    (
        ServiceName::Registry,
        "enterprises",
        "louyu.registry.v1.RegistryService",
        "GetEnterprise",
        "",
    ),
    (
        ServiceName::Registry,
        "buildings",
        "louyu.registry.v1.RegistryService",
        "GetBuilding",
        "",
    ),
    (
        ServiceName::Registry,
        "tenancies",
        "louyu.registry.v1.RegistryService",
        "GetTenancy",
        "",
    ),
    (
        ServiceName::Visits,
        "visits",
        "louyu.visits.v1.VisitsService",
        "GetVisit",
        "",
    ),
    (
        ServiceName::Visits,
        "demands",
        "louyu.visits.v1.VisitsService",
        "GetDemand",
        "",
    ),
    (
        ServiceName::Risk,
        "enterprises",
        "louyu.risk.v1.RiskService",
        "GetAssessment",
        "/assessment",
    ),
    (
        ServiceName::Referral,
        "referrals",
        "louyu.referral.v1.ReferralService",
        "GetReferral",
        "",
    ),
    (
        ServiceName::Referral,
        "retentionCases",
        "louyu.referral.v1.ReferralService",
        "GetRetentionCase",
        "",
    ),
];

fn method(pool: &DescriptorPool, service: &str, name: &str) -> anyhow::Result<MethodDescriptor> {
    pool.get_service_by_name(service)
        .and_then(|service| service.methods().find(|method| method.name() == name))
        .ok_or_else(|| anyhow::anyhow!("the event stream needs {service}.{name}"))
}

impl Reads {
    pub fn new(pool: &DescriptorPool) -> anyhow::Result<Self> {
        let by_collection = READS
            .iter()
            .map(|(feed, collection, service, name, suffix)| {
                Ok((*feed, *collection, method(pool, service, name)?, *suffix))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            get_district: method(pool, "louyu.registry.v1.RegistryService", "GetDistrict")?,
            by_collection,
            timestamp: pool
                .get_message_by_name("google.protobuf.Timestamp")
                .ok_or_else(|| anyhow::anyhow!("the pool has google.protobuf.Timestamp"))?,
        })
    }

    /// The read that decides whether the viewer sees an event of `feed`
    /// about `resource` (`districts/{d}/{collection}/{id}`); `None` when
    /// nothing reads it back (assignments, for one), and the event is not
    /// relayed.
    pub fn read_for(&self, feed: ServiceName, resource: &str) -> Option<Read<'_>> {
        let segments: Vec<&str> = resource.split('/').collect();
        let [districts, district, collection, id] = segments.as_slice() else {
            return None;
        };
        if *districts != "districts" || district.is_empty() || id.is_empty() {
            return None;
        }
        self.by_collection
            .iter()
            .find(|(service, name, _, _)| *service == feed && name == collection)
            .map(|(_, _, rpc, suffix)| Read {
                rpc,
                name: format!("{resource}{suffix}"),
            })
    }

    /// `GetDistrict` of `district`: the call by which the gateway asks the
    /// registry whether the viewer's credentials still hold.
    pub fn district_read(&self, district: &str) -> Read<'_> {
        Read {
            rpc: &self.get_district,
            name: district.to_owned(),
        }
    }

    /// `timestamp` in proto3 JSON (RFC 3339).
    pub fn timestamp_json(&self, timestamp: &prost_types::Timestamp) -> serde_json::Value {
        let encoded = prost::Message::encode_to_vec(timestamp);
        DynamicMessage::decode(self.timestamp.clone(), encoded.as_slice())
            .ok()
            .and_then(|message| serde_json::to_value(&message).ok())
            .unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_feeds_resources_are_read_by_their_owners_get() {
        let reads = Reads::new(&crate::rest::louyu_pool().unwrap()).unwrap();
        let cases = [
            (
                ServiceName::Registry,
                "districts/d/enterprises/E",
                Some(("GetEnterprise", "districts/d/enterprises/E")),
            ),
            (
                ServiceName::Registry,
                "districts/d/buildings/b",
                Some(("GetBuilding", "districts/d/buildings/b")),
            ),
            (
                ServiceName::Visits,
                "districts/d/demands/x",
                Some(("GetDemand", "districts/d/demands/x")),
            ),
            (
                ServiceName::Risk,
                "districts/d/enterprises/E",
                Some(("GetAssessment", "districts/d/enterprises/E/assessment")),
            ),
            (
                ServiceName::Referral,
                "districts/d/retentionCases/c",
                Some(("GetRetentionCase", "districts/d/retentionCases/c")),
            ),
            (
                ServiceName::Registry,
                "districts/d/staff/s/assignments/a",
                None,
            ),
            (ServiceName::Visits, "districts/d/enterprises/E", None),
            (ServiceName::Registry, "elsewhere/d/enterprises/E", None),
        ];
        for (feed, resource, expected) in cases {
            let read = reads
                .read_for(feed, resource)
                .map(|read| (read.rpc.name().to_owned(), read.name));
            assert_eq!(
                read,
                expected.map(|(rpc, name)| (rpc.to_owned(), name.to_owned())),
                "{resource}"
            );
        }
    }

    #[test]
    fn a_timestamp_is_rfc_3339() {
        let reads = Reads::new(&crate::rest::louyu_pool().unwrap()).unwrap();
        let json = reads.timestamp_json(&prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        });
        assert_eq!(json, "2023-11-14T22:13:20Z");
    }
}
