//! Louyu's public API: the generated messages, clients and servers of every
//! `louyu.<service>.v1` package, and the descriptor set for reflection.

/// Encoded `FileDescriptorSet` of every Louyu proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/louyu_descriptor.bin"));

pub mod google {
    pub mod r#type {
        tonic::include_proto!("google.r#type");
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

pub use louyu::{common, registry, visits};

/// The `type.googleapis.com/<full name>` URL an `Any` carries for a message.
pub fn type_url(full_name: &str) -> String {
    format!("type.googleapis.com/{full_name}")
}
