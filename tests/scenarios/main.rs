//! Scenarios that cross services, through real services and their feeds,
//! on SQLite and PostgreSQL.

mod office_space;
