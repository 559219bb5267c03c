//! The risk store over a real database, on both backends: the whole
//! district re-assessed at once (`Store::rescore_district`).

mod activation;
mod district;
mod feeds;
mod helpers;
mod history;
