//! CSV import of buildings, units, enterprises and tenancies.

use louyu_kit::audit::RequestContext;
use louyu_kit::geo::Datum;
use louyu_kit::handler::{Reply, reply};
use louyu_proto::registry::v1::*;
use tonic::Request;

use super::RegistryApi;
use crate::domain::fields;

pub(super) async fn import_records(
    api: &RegistryApi,
    request: Request<ImportRecordsRequest>,
) -> Reply<ImportRecordsResponse> {
    let context = RequestContext::of_request(&request)?;
    let body = request.into_inner();
    api.names().parse_district("parent", &body.parent)?;
    let kind = fields::required_enum::<ImportKind>("kind", body.kind)?;
    let datum = Datum::parse("location_datum", body.location_datum)?;
    reply(
        crate::import::import(
            &api.store,
            &context,
            kind,
            &body.csv,
            body.validate_only,
            datum,
        )
        .await,
    )
}
