//! Scenarios that cross services, through real services and their feeds,
//! on SQLite and PostgreSQL.

mod building_project;
mod office_space;
