//! The registry's types and rules, with no I/O. Raw request values are parsed
//! here once; past the API layer only these types are used. Names, codes and
//! the field rules every service shares live in kit.

pub mod contacts;
pub mod councils;
pub mod fields;
pub mod offerings;

pub use louyu_kit::names::DistrictNames as Names;
pub use louyu_kit::uscc::{self, Uscc};
