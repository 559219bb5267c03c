//! The registry's types and rules, with no I/O. Raw request values are parsed
//! here once; past the API layer only these types are used.

pub mod fields;
pub mod names;
pub mod uscc;

pub use names::Names;
pub use uscc::Uscc;
