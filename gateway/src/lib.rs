//! The gateway: the one door through which people and outside systems reach
//! Louyu. Here, the first part of it: every `louyu.<service>.v1` call, and
//! every `google.longrunning.Operations` call, is passed on unread to the
//! service that owns it, with the caller's token, deadline and trace
//! context; the gateway's own health and reflection list what it fronts.
//! REST, login and the live screen come later (see issue 12).

pub mod forward;
pub mod startup;
