//! What each building resource offers, and when: a reading club, counselling,
//! career advice, a self-service tax machine.

use louyu_kit::error::{InvalidArgument, Violations};
use louyu_kit::handler::{Reply, reply, required};
use louyu_kit::names::chosen_or_generated_id;
use louyu_proto::registry::v1::offering::Availability as AvailabilityMessage;
use louyu_proto::registry::v1::*;
use tonic::{Request, Response};

use super::RegistryApi;
use super::update::{IMMUTABLE, MutableFields, Update, populated};
use crate::domain::fields;
use crate::domain::offerings::{self, Availability};
use crate::store::{Call, OfferingInput};

/// The parent of every resource's offerings in `ListOfferings` (AIP-159).
const ANY_RESOURCE: &str = "-";

pub(super) async fn create(
    api: &RegistryApi,
    request: Request<CreateOfferingRequest>,
) -> Reply<Offering> {
    let body = request.get_ref();
    let resource_id = api.names().parse_resource("parent", &body.parent)?;
    let call = Call::idempotent(&request)?;
    let mut violations = Violations::new();
    let id = violations.check(chosen_or_generated_id(
        "offering_id",
        &body.offering_id,
        "o",
    ));
    let input =
        violations.check(required("offering", body.offering.as_ref()).and_then(parse_offering));
    violations.into_result()?;
    reply(
        api.store
            .create_offering(
                &call,
                &resource_id,
                &id.expect("checked"),
                input.expect("checked"),
            )
            .await,
    )
}

pub(super) async fn get(
    api: &RegistryApi,
    request: Request<GetOfferingRequest>,
) -> Reply<Offering> {
    let (resource_id, id) = api
        .names()
        .parse_offering("name", &request.get_ref().name)?;
    reply(api.store.get_offering(&resource_id, &id).await)
}

pub(super) async fn list(
    api: &RegistryApi,
    request: Request<ListOfferingsRequest>,
) -> Reply<ListOfferingsResponse> {
    let body = request.get_ref();
    let parent_id = api.names().parse_resource("parent", &body.parent)?;
    let resource_id = (parent_id != ANY_RESOURCE).then_some(parent_id);
    louyu_kit::handler::list(&api.page_tokens, body, async |page| {
        api.store.list_offerings(resource_id.as_deref(), page).await
    })
    .await
}

pub(super) async fn update(
    api: &RegistryApi,
    request: Request<UpdateOfferingRequest>,
) -> Reply<Offering> {
    let body = request.get_ref();
    let patch = required("offering", body.offering.as_ref())?;
    let (resource_id, id) = api.names().parse_offering("offering.name", &patch.name)?;
    let update = Update::parse(
        body.update_mask.as_ref(),
        mutable_fields(),
        IMMUTABLE,
        patch,
    )?;
    let call = Call::new(&request)?;
    reply(
        api.store
            .update_offering(&call, &resource_id, &id, move |current: &mut Offering| {
                update.apply(current);
                Ok(parse_offering(current)?)
            })
            .await,
    )
}

pub(super) async fn delete(
    api: &RegistryApi,
    request: Request<DeleteOfferingRequest>,
) -> Reply<DeleteOfferingResponse> {
    let (resource_id, id) = api
        .names()
        .parse_offering("name", &request.get_ref().name)?;
    let call = Call::new(&request)?;
    api.store.delete_offering(&call, &resource_id, &id).await?;
    Ok(Response::new(DeleteOfferingResponse {}))
}

/// The fields an update may name. `opening_hours` and `sessions` are the
/// two sides of the `availability` oneof, one Rust field, so they are
/// listed by hand rather than by `mutable_fields!`: naming one sets it from
/// the patch, replacing the other, or clears it when the patch holds the
/// other side (and the offering, left with neither, is then rejected).
fn mutable_fields() -> MutableFields<Offering> {
    MutableFields {
        names: &[
            "display_name",
            "kind",
            "provider",
            "description",
            "opening_hours",
            "sessions",
        ],
        populated: |patch, path| match path {
            "display_name" => populated(&patch.display_name),
            "kind" => populated(&patch.kind),
            "provider" => populated(&patch.provider),
            "description" => populated(&patch.description),
            "opening_hours" => matches!(
                patch.availability,
                Some(AvailabilityMessage::OpeningHours(_))
            ),
            "sessions" => matches!(patch.availability, Some(AvailabilityMessage::Sessions(_))),
            _ => false,
        },
        merge: |current, patch, paths| {
            for path in paths {
                match path.as_str() {
                    "display_name" => current.display_name = patch.display_name.clone(),
                    "kind" => current.kind = patch.kind,
                    "provider" => current.provider = patch.provider.clone(),
                    "description" => current.description = patch.description.clone(),
                    "opening_hours" | "sessions" => merge_availability(current, patch, path),
                    _ => unreachable!("update paths are checked against the same list"),
                }
            }
        },
    }
}

/// Applies the oneof side `path` of the patch: set it when the patch holds
/// it, otherwise clear it when the offering holds it.
fn merge_availability(current: &mut Offering, patch: &Offering, path: &str) {
    let holds = |availability: &Option<AvailabilityMessage>| match availability {
        Some(AvailabilityMessage::OpeningHours(_)) => path == "opening_hours",
        Some(AvailabilityMessage::Sessions(_)) => path == "sessions",
        None => false,
    };
    if holds(&patch.availability) {
        current.availability = patch.availability.clone();
    } else if holds(&current.availability) {
        current.availability = None;
    }
}

fn parse_offering(value: &Offering) -> Result<OfferingInput, InvalidArgument> {
    let mut violations = Violations::new();
    let display_name = violations.check(fields::name("offering.display_name", &value.display_name));
    let kind = violations.check(fields::required_enum::<OfferingKind>(
        "offering.kind",
        value.kind,
    ));
    let provider = violations.check(offerings::provider("offering.provider", &value.provider));
    let description = violations.check(fields::multiline_text(
        "offering.description",
        &value.description,
        fields::MAX_TEXT_CHARS,
        false,
    ));
    let availability =
        violations.check(Availability::parse("offering", value.availability.as_ref()));
    violations.into_result()?;
    Ok(OfferingInput {
        display_name: display_name.expect("checked"),
        kind: kind.expect("checked"),
        provider: provider.expect("checked"),
        description: description.expect("checked"),
        availability: availability.expect("checked"),
    })
}
