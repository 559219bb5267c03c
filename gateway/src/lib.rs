//! The gateway: the one door through which people and outside systems reach
//! Louyu. Here, the first part of it: every `louyu.<service>.v1` call, and
//! every `google.longrunning.Operations` call, is passed on unread to the
//! service that owns it, with the caller's token, deadline and trace
//! context; the gateway's own health and reflection list what it fronts.
//! REST/JSON is transcoded to the same calls, from the protos'
//! `google.api.http` options, with `/openapi.json` generated from the same
//! routes ([`rest`]), and a building's page composed from several services
//! ([`rest::page`]), CSV and XLSX exports of the lists ([`rest::export`]),
//! the live screen's page ([`screen`]) and its server-sent events
//! ([`stream`]). Everything it answers passes its protection first
//! ([`protect`]: rate and size limits, load shedding, deadlines, CORS,
//! security headers). People log in through the district's OpenID Connect
//! provider and systems with client credentials ([`login`]).

pub mod forward;
pub mod login;
pub mod protect;
pub mod rest;
pub mod screen;
pub mod startup;
pub mod stream;
