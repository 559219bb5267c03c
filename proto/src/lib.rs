//! Louyu's public API: the generated messages, clients and servers of every
//! `louyu.<service>.v1` package, and the descriptor set for reflection.

/// Encoded `FileDescriptorSet` of every Louyu proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/louyu_descriptor.bin"));

pub mod google {
    pub mod r#type {
        tonic::include_proto!("google.r#type");
    }

    /// Annotations `google/longrunning/operations.proto` uses.
    pub mod api {
        tonic::include_proto!("google.api");
    }

    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }

    /// Long-running operations (`google.longrunning.Operations`), which the
    /// risk service serves for rule activation.
    pub mod longrunning {
        tonic::include_proto!("google.longrunning");
    }
}

/// The Louyu packages, nested as their proto package names are so that
/// generated cross-package paths resolve.
pub mod louyu {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("louyu.common.v1");
        }
    }

    pub mod visits {
        pub mod v1 {
            tonic::include_proto!("louyu.visits.v1");
        }
    }

    pub mod risk {
        pub mod v1 {
            tonic::include_proto!("louyu.risk.v1");
        }
    }

    pub mod referral {
        pub mod v1 {
            tonic::include_proto!("louyu.referral.v1");
        }
    }

    pub mod registry {
        pub mod v1 {
            tonic::include_proto!("louyu.registry.v1");

            impl std::fmt::Debug for Contact {
                fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    formatter.write_str("Contact { [redacted] }")
                }
            }
        }
    }
}

pub use louyu::{common, referral, registry, risk, visits};

/// A request that carries an idempotency key (`request_id`, AIP-155).
/// Implemented by the build for every message with that field.
pub trait IdempotentRequest: prost::Message + prost::Name + Clone {
    fn request_id(&self) -> &str;
    /// Empties `request_id`, so that a retry and its first call hash alike.
    fn clear_request_id(&mut self);
}

/// A List request (AIP-132): a parent, a page size, a page token and, where
/// the list has one, a filter (empty otherwise). Implemented by the build for
/// every message with those fields.
pub trait ListRequest: prost::Name {
    fn parent(&self) -> &str;
    fn filter(&self) -> &str;
    fn page_size(&self) -> i32;
    fn page_token(&self) -> &str;
}

/// A List response: one page of items and the token of the next. Implemented
/// by the build for every response of one repeated field and
/// `next_page_token`.
pub trait ListResponse {
    type Item;
    fn from_page(items: Vec<Self::Item>, next_page_token: String) -> Self;
}

include!(concat!(env!("OUT_DIR"), "/request_traits.rs"));

/// The RPC a request message belongs to: `CreateEnterpriseRequest` gives
/// `CreateEnterprise`. Every request message is named after its method
/// (buf lint `STANDARD`), so handlers never spell their method.
pub fn method_of<M: prost::Name>() -> &'static str {
    M::NAME.strip_suffix("Request").unwrap_or(M::NAME)
}

/// The `type.googleapis.com/<full name>` URL an `Any` carries for a message.
pub fn type_url(full_name: &str) -> String {
    format!("type.googleapis.com/{full_name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::v1::{
        CreateEnterpriseRequest, ListBuildingsRequest, ListBuildingsResponse,
    };

    #[test]
    fn the_method_is_the_request_type_name_without_request() {
        assert_eq!(method_of::<CreateEnterpriseRequest>(), "CreateEnterprise");
        assert_eq!(method_of::<ListBuildingsRequest>(), "ListBuildings");
    }

    #[test]
    fn requests_with_a_request_id_clear_it_for_hashing() {
        let mut request = CreateEnterpriseRequest {
            parent: "districts/jingan".into(),
            request_id: "r-1".into(),
            ..Default::default()
        };
        assert_eq!(request.request_id(), "r-1");
        request.clear_request_id();
        assert_eq!(request.request_id(), "");
        assert_eq!(request.parent, "districts/jingan");
    }

    #[test]
    fn list_requests_and_responses_get_their_traits_from_their_fields() {
        let request = ListBuildingsRequest {
            parent: "districts/jingan".into(),
            filter: "managing_sub_district = \"x\"".into(),
            page_size: 7,
            page_token: "t".into(),
            ..ListBuildingsRequest::default()
        };
        assert_eq!(request.parent(), "districts/jingan");
        assert_eq!(request.page_size(), 7);
        assert_eq!(request.page_token(), "t");
        assert!(request.filter().starts_with("managing_sub_district"));
        let response = ListBuildingsResponse::from_page(Vec::new(), "next".into());
        assert_eq!(response.next_page_token, "next");
    }
}
