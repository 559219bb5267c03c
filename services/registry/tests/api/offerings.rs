//! What building resources offer and when, and the 500-metre service circle
//! answering "what is on near this building this week".

use louyu_kit::identity::Role;
use louyu_kit::time::SHANGHAI;
use louyu_proto::common::v1::ListAuditRecordsRequest;
use louyu_proto::google::r#type::{DayOfWeek, Interval, LatLng, TimeOfDay};
use louyu_proto::registry::v1::registry_service_client::RegistryServiceClient;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use louyu_testkit::identity::{AuthorizedChannel, person_in};
use tonic::Code;

use crate::helpers::*;

const CENTRE: LatLng = LatLng {
    latitude: 31.2292,
    longitude: 121.4504,
};

const WEEKDAYS: [DayOfWeek; 5] = [
    DayOfWeek::Monday,
    DayOfWeek::Tuesday,
    DayOfWeek::Wednesday,
    DayOfWeek::Thursday,
    DayOfWeek::Friday,
];

/// Monday of the current week, in Shanghai.
fn this_monday() -> time::Date {
    let today = louyu_kit::time::now().to_offset(SHANGHAI).date();
    today - time::Duration::days(i64::from(today.weekday().number_days_from_monday()))
}

fn days_after(date: time::Date, days: i64) -> time::Date {
    date + time::Duration::days(days)
}

/// `hour:minute` on a Shanghai date.
fn at(date: time::Date, hour: u8, minute: u8) -> prost_types::Timestamp {
    let instant = date
        .with_hms(hour, minute, 0)
        .expect("a time of day")
        .assume_offset(SHANGHAI);
    prost_types::Timestamp {
        seconds: instant.unix_timestamp(),
        nanos: 0,
    }
}

fn interval(start: prost_types::Timestamp, end: prost_types::Timestamp) -> Interval {
    Interval {
        start_time: Some(start),
        end_time: Some(end),
    }
}

/// The week from `monday` 00:00 to the next Monday 00:00, Shanghai time.
fn week_from(monday: time::Date) -> Interval {
    interval(at(monday, 0, 0), at(days_after(monday, 7), 0, 0))
}

fn time_of_day(hours: i32, minutes: i32) -> Option<TimeOfDay> {
    Some(TimeOfDay {
        hours,
        minutes,
        seconds: 0,
        nanos: 0,
    })
}

fn date_of(date: time::Date) -> louyu_proto::google::r#type::Date {
    louyu_proto::google::r#type::Date {
        year: date.year(),
        month: i32::from(u8::from(date.month())),
        day: i32::from(date.day()),
    }
}

fn resource_name(id: &str) -> String {
    format!("{DISTRICT}/resources/{id}")
}

/// A self-service tax machine, open weekdays 9:00 to 17:00.
fn tax_machine() -> Offering {
    Offering {
        display_name: "自助办税终端".to_owned(),
        kind: OfferingKind::SelfServiceMachine as i32,
        provider: "区税务局".to_owned(),
        availability: Some(offering::Availability::OpeningHours(OpeningHours {
            periods: WEEKDAYS
                .iter()
                .map(|day| WeeklyPeriod {
                    day_of_week: *day as i32,
                    start_time: time_of_day(9, 0),
                    end_time: time_of_day(17, 0),
                })
                .collect(),
        })),
        ..Offering::default()
    }
}

/// A reading club every Wednesday 19:00 to 21:00 since a month ago.
fn reading_club() -> Offering {
    Offering {
        display_name: "楼宇读书会".to_owned(),
        kind: OfferingKind::ReadingClub as i32,
        provider: "南京西路街道党群服务站".to_owned(),
        description: "每周三晚读一本书".to_owned(),
        availability: Some(offering::Availability::Sessions(Sessions {
            weekly: vec![WeeklySession {
                day_of_week: DayOfWeek::Wednesday as i32,
                start_time: time_of_day(19, 0),
                end_time: time_of_day(21, 0),
                first_date: Some(date_of(days_after(this_monday(), -28))),
                last_date: None,
            }],
            one_off: Vec::new(),
        })),
        ..Offering::default()
    }
}

/// A job fair next Tuesday, 9:30 to 16:00.
fn job_fair_session() -> Interval {
    let next_tuesday = days_after(this_monday(), 8);
    interval(at(next_tuesday, 9, 30), at(next_tuesday, 16, 0))
}

fn job_fair() -> Offering {
    Offering {
        display_name: "楼宇招聘会".to_owned(),
        kind: OfferingKind::Other as i32,
        provider: "区就业促进中心".to_owned(),
        availability: Some(offering::Availability::Sessions(Sessions {
            weekly: Vec::new(),
            one_off: vec![job_fair_session()],
        })),
        ..Offering::default()
    }
}

/// Counselling every Wednesday afternoon.
fn counselling() -> Offering {
    Offering {
        display_name: "心理咨询".to_owned(),
        kind: OfferingKind::Counselling as i32,
        provider: "区心理健康服务中心".to_owned(),
        availability: Some(offering::Availability::Sessions(Sessions {
            weekly: vec![WeeklySession {
                day_of_week: DayOfWeek::Wednesday as i32,
                start_time: time_of_day(14, 0),
                end_time: time_of_day(16, 0),
                first_date: Some(date_of(days_after(this_monday(), -7))),
                last_date: None,
            }],
            one_off: Vec::new(),
        })),
        ..Offering::default()
    }
}

fn create_offering_request(
    resource_id: &str,
    offering_id: &str,
    offering: Offering,
) -> CreateOfferingRequest {
    CreateOfferingRequest {
        parent: resource_name(resource_id),
        offering: Some(offering),
        offering_id: offering_id.to_owned(),
        request_id: String::new(),
    }
}

/// A sub-district `nanjingxilu` with a tower at [`CENTRE`].
async fn tower(app: &mut TestApp) -> Building {
    app.create_sub_district("nanjingxilu").await;
    app.create_building("tower", "nanjingxilu", Some(CENTRE))
        .await
}

/// A resource `latitude_offset` degrees north of the centre (0.001 is about
/// 111 m), in `building` if any.
async fn create_resource(
    app: &mut TestApp,
    id: &str,
    kind: ResourceKind,
    latitude_offset: f64,
    building: Option<&str>,
) -> BuildingResource {
    app.registry
        .create_building_resource(CreateBuildingResourceRequest {
            parent: DISTRICT.to_owned(),
            building_resource: Some(BuildingResource {
                display_name: id.to_owned(),
                kind: kind as i32,
                building: building.map(str::to_owned).unwrap_or_default(),
                location: Some(LatLng {
                    latitude: CENTRE.latitude + latitude_offset,
                    longitude: CENTRE.longitude,
                }),
                ..BuildingResource::default()
            }),
            building_resource_id: id.to_owned(),
            ..CreateBuildingResourceRequest::default()
        })
        .await
        .expect("create resource")
        .into_inner()
}

async fn create_offering(
    registry: &mut RegistryServiceClient<AuthorizedChannel>,
    resource_id: &str,
    offering_id: &str,
    offering: Offering,
) -> Offering {
    registry
        .create_offering(create_offering_request(resource_id, offering_id, offering))
        .await
        .unwrap_or_else(|status| panic!("create offering {offering_id}: {status:?}"))
        .into_inner()
}

async fn registry_as(
    app: &TestApp,
    who: &louyu_kit::identity::Principal,
) -> RegistryServiceClient<AuthorizedChannel> {
    RegistryServiceClient::new(
        app.sandbox()
            .client_as(louyu_kit::config::ServiceName::Registry, who)
            .await,
    )
}

fn search(building: &str, time_window: Option<Interval>) -> SearchNearbyResourcesRequest {
    SearchNearbyResourcesRequest {
        building: building.to_owned(),
        radius_meters: 500.0,
        kind: 0,
        time_window,
        ..SearchNearbyResourcesRequest::default()
    }
}

/// What is on at one resource: its display name, and the display name of
/// each offering on with its times.
type ResourceOn = (String, Vec<(String, Vec<Interval>)>);

/// Each resource found, with what is on at it.
fn what_is_on(response: &SearchNearbyResourcesResponse) -> Vec<ResourceOn> {
    response
        .results
        .iter()
        .map(|result| {
            let resource = result.building_resource.as_ref().expect("a resource");
            let offerings = result
                .offerings
                .iter()
                .map(|on| {
                    let offering = on.offering.as_ref().expect("an offering");
                    (offering.display_name.clone(), on.occurrences.clone())
                })
                .collect();
            (resource.display_name.clone(), offerings)
        })
        .collect()
}

/// The whole "what is on" scene: a service station 110 m away with a tax
/// machine and next week's job fair, a meeting room 220 m away with nothing
/// on, a reading corner 330 m away with a weekly club, and counselling 2.2
/// km away.
async fn the_service_circle(app: &mut TestApp) -> Building {
    let tower = tower(app).await;
    create_resource(
        app,
        "station",
        ResourceKind::ServiceStation,
        0.0010,
        Some(&tower.name),
    )
    .await;
    create_resource(
        app,
        "room",
        ResourceKind::MeetingRoom,
        0.0020,
        Some(&tower.name),
    )
    .await;
    create_resource(app, "corner", ResourceKind::ReadingCorner, 0.0030, None).await;
    create_resource(app, "far", ResourceKind::ServiceStation, 0.0200, None).await;
    create_offering(&mut app.registry, "station", "tax-machine", tax_machine()).await;
    create_offering(&mut app.registry, "station", "job-fair", job_fair()).await;
    create_offering(&mut app.registry, "corner", "reading-club", reading_club()).await;
    create_offering(&mut app.registry, "far", "counselling", counselling()).await;
    tower
}

async fn the_500_metre_circle_shows_what_is_on_this_week_nearest_first(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let tower = the_service_circle(&mut app).await;
    let monday = this_monday();

    let as_today = app
        .registry
        .search_nearby_resources(search(&tower.name, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        what_is_on(&as_today),
        vec![
            ("station".to_owned(), vec![]),
            ("room".to_owned(), vec![]),
            ("corner".to_owned(), vec![]),
        ],
        "without a window: every resource within 500 m, as before, without offerings"
    );

    let this_week = app
        .registry
        .search_nearby_resources(search(&tower.name, Some(week_from(monday))))
        .await
        .unwrap()
        .into_inner();
    let machine_hours: Vec<Interval> = (0..5)
        .map(|day| {
            let date = days_after(monday, day);
            interval(at(date, 9, 0), at(date, 17, 0))
        })
        .collect();
    let wednesday = days_after(monday, 2);
    assert_eq!(
        what_is_on(&this_week),
        vec![
            (
                "station".to_owned(),
                vec![("自助办税终端".to_owned(), machine_hours.clone())]
            ),
            (
                "corner".to_owned(),
                vec![(
                    "楼宇读书会".to_owned(),
                    vec![interval(at(wednesday, 19, 0), at(wednesday, 21, 0))]
                )]
            ),
        ],
        "this week: the tax machine's opening hours and the club's session, nearest first; \
         not next week's job fair, not the empty meeting room, not counselling 2.2 km away"
    );
    assert!(
        (this_week.results[0].distance_meters - 111.0).abs() < 5.0,
        "{}",
        this_week.results[0].distance_meters
    );
    let club = this_week.results[1].offerings[0].offering.as_ref().unwrap();
    assert_eq!(
        club.name,
        format!("{DISTRICT}/resources/corner/offerings/reading-club")
    );
    assert_eq!(club.provider, "南京西路街道党群服务站");

    let wider = app
        .registry
        .search_nearby_resources(SearchNearbyResourcesRequest {
            radius_meters: 5000.0,
            ..search(&tower.name, Some(week_from(monday)))
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = what_is_on(&wider)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        ["station", "corner", "far"],
        "counselling was left out for its distance alone"
    );

    let next_monday = days_after(monday, 7);
    let next_week = app
        .registry
        .search_nearby_resources(search(&tower.name, Some(week_from(next_monday))))
        .await
        .unwrap()
        .into_inner();
    let next_week_on = what_is_on(&next_week);
    assert_eq!(next_week_on[0].0, "station");
    let station_names: Vec<&str> = next_week_on[0]
        .1
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        station_names,
        ["自助办税终端", "楼宇招聘会"],
        "next week the job fair is on too, after Monday's opening hours"
    );
    assert_eq!(next_week_on[0].1[1].1, vec![job_fair_session()]);
    assert_eq!(next_week_on[1].0, "corner");

    // An evening window: the machine is closed, the club is on.
    let wednesday_evening = interval(at(wednesday, 18, 0), at(wednesday, 22, 0));
    let evening = app
        .registry
        .search_nearby_resources(search(&tower.name, Some(wednesday_evening)))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = what_is_on(&evening)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["corner"]);
}

async fn offering_and_window_input_is_checked_field_by_field(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let tower = tower(&mut app).await;
    create_resource(
        &mut app,
        "station",
        ResourceKind::ServiceStation,
        0.001,
        Some(&tower.name),
    )
    .await;
    let monday = this_monday();

    let backwards_fair = Offering {
        availability: Some(offering::Availability::Sessions(Sessions {
            weekly: Vec::new(),
            one_off: vec![interval(at(monday, 16, 0), at(monday, 9, 30))],
        })),
        ..job_fair()
    };
    assert_invalid_field(
        app.registry
            .create_offering(create_offering_request("station", "fair", backwards_fair))
            .await,
        "offering.sessions.one_off[0].end_time",
    );

    let backwards_club = Offering {
        availability: Some(offering::Availability::Sessions(Sessions {
            weekly: vec![WeeklySession {
                day_of_week: DayOfWeek::Wednesday as i32,
                start_time: time_of_day(21, 0),
                end_time: time_of_day(19, 0),
                first_date: Some(date_of(monday)),
                last_date: Some(date_of(days_after(monday, -1))),
            }],
            one_off: Vec::new(),
        })),
        ..reading_club()
    };
    let status = app
        .registry
        .create_offering(create_offering_request(
            "station",
            "club",
            backwards_club.clone(),
        ))
        .await;
    assert_invalid_field(status, "offering.sessions.weekly[0].end_time");
    assert_invalid_field(
        app.registry
            .create_offering(create_offering_request("station", "club", backwards_club))
            .await,
        "offering.sessions.weekly[0].last_date",
    );

    let mut eighth_day = tax_machine();
    if let Some(offering::Availability::OpeningHours(hours)) = &mut eighth_day.availability {
        hours.periods[0].day_of_week = 8;
    }
    assert_invalid_field(
        app.registry
            .create_offering(create_offering_request("station", "machine", eighth_day))
            .await,
        "offering.opening_hours.periods[0].day_of_week",
    );

    let whenever = Offering {
        availability: None,
        ..tax_machine()
    };
    assert_invalid_field(
        app.registry
            .create_offering(create_offering_request("station", "machine", whenever))
            .await,
        "offering.availability",
    );

    let a_person = Offering {
        provider: "王老师 13800138000".to_owned(),
        ..tax_machine()
    };
    let refused = assert_code(
        app.registry
            .create_offering(create_offering_request("station", "machine", a_person))
            .await,
        Code::InvalidArgument,
    );
    assert!(
        refused.message().contains("offering.provider"),
        "{refused:?}"
    );
    assert!(
        !refused.message().contains("13800138000"),
        "the value is not echoed"
    );

    let unknown = assert_code(
        app.registry
            .create_offering(create_offering_request("nowhere", "machine", tax_machine()))
            .await,
        Code::NotFound,
    );
    assert!(
        unknown.message().contains(&resource_name("nowhere")),
        "{unknown:?}"
    );
    assert_invalid_field(
        app.registry
            .create_offering(CreateOfferingRequest {
                parent: format!("{DISTRICT}/buildings/tower"),
                ..create_offering_request("station", "machine", tax_machine())
            })
            .await,
        "parent",
    );

    let backwards_window = interval(at(days_after(monday, 7), 0, 0), at(monday, 0, 0));
    assert_invalid_field(
        app.registry
            .search_nearby_resources(search(&tower.name, Some(backwards_window)))
            .await,
        "time_window.end_time",
    );
    let a_quarter = interval(at(monday, 0, 0), at(days_after(monday, 90), 0, 0));
    assert_invalid_field(
        app.registry
            .search_nearby_resources(search(&tower.name, Some(a_quarter)))
            .await,
        "time_window.end_time",
    );
    let open_ended = Interval {
        start_time: Some(at(monday, 0, 0)),
        end_time: None,
    };
    assert_invalid_field(
        app.registry
            .search_nearby_resources(search(&tower.name, Some(open_ended)))
            .await,
        "time_window.end_time",
    );

    let offerings = app
        .registry
        .list_offerings(ListOfferingsRequest {
            parent: resource_name("-"),
            ..ListOfferingsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(offerings.offerings.is_empty(), "nothing rejected was kept");
}

async fn offerings_are_created_once_read_listed_changed_and_deleted_with_their_trail(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let tower = tower(&mut app).await;
    create_resource(
        &mut app,
        "station",
        ResourceKind::ServiceStation,
        0.001,
        Some(&tower.name),
    )
    .await;
    create_resource(&mut app, "corner", ResourceKind::ReadingCorner, 0.003, None).await;

    let retried = CreateOfferingRequest {
        request_id: "5a7c9a52-7a3e-4c1e-9d0e-2b1f6f0e8a11".to_owned(),
        ..create_offering_request("station", "tax-machine", tax_machine())
    };
    let first = app
        .registry
        .create_offering(retried.clone())
        .await
        .unwrap()
        .into_inner();
    let again = app
        .registry
        .create_offering(retried)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "a retry returns the first result");
    assert_eq!(
        first.name,
        format!("{DISTRICT}/resources/station/offerings/tax-machine")
    );
    assert_eq!(
        first.availability,
        tax_machine().availability,
        "the hours as given"
    );
    assert!(first.create_time.is_some());
    assert_code(
        app.registry
            .create_offering(create_offering_request(
                "station",
                "tax-machine",
                tax_machine(),
            ))
            .await,
        Code::AlreadyExists,
    );
    create_offering(&mut app.registry, "station", "job-fair", job_fair()).await;
    let generated = create_offering(&mut app.registry, "corner", "", reading_club()).await;
    assert!(
        generated
            .name
            .starts_with(&format!("{DISTRICT}/resources/corner/offerings/o-"))
    );

    let got = app
        .registry
        .get_offering(GetOfferingRequest {
            name: first.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, first);
    assert_code(
        app.registry
            .get_offering(GetOfferingRequest {
                name: format!("{DISTRICT}/resources/station/offerings/nothing"),
            })
            .await,
        Code::NotFound,
    );

    let of_station = app
        .registry
        .list_offerings(ListOfferingsRequest {
            parent: resource_name("station"),
            ..ListOfferingsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = of_station
        .offerings
        .iter()
        .map(|offering| offering.display_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["楼宇招聘会", "自助办税终端"],
        "by name: job-fair, tax-machine"
    );
    let clubs = app
        .registry
        .list_offerings(ListOfferingsRequest {
            parent: resource_name("-"),
            filter: "kind = READING_CLUB".to_owned(),
            ..ListOfferingsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(clubs.offerings, vec![generated.clone()]);
    let mut paged = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .registry
            .list_offerings(ListOfferingsRequest {
                parent: resource_name("-"),
                page_size: 1,
                page_token: page_token.clone(),
                ..ListOfferingsRequest::default()
            })
            .await
            .unwrap()
            .into_inner();
        paged.extend(page.offerings.into_iter().map(|offering| offering.name));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(
        paged,
        [
            generated.name.clone(),
            format!("{DISTRICT}/resources/station/offerings/job-fair"),
            first.name.clone(),
        ],
        "every resource's, one page at a time, by name"
    );
    assert_code(
        app.registry
            .list_offerings(ListOfferingsRequest {
                parent: resource_name("nowhere"),
                ..ListOfferingsRequest::default()
            })
            .await,
        Code::NotFound,
    );

    // Rename it, then move it from opening hours to sessions.
    let renamed = app
        .registry
        .update_offering(UpdateOfferingRequest {
            offering: Some(Offering {
                name: first.name.clone(),
                display_name: "自助办税机".to_owned(),
                ..Offering::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.display_name, "自助办税机");
    assert_eq!(
        renamed.availability, first.availability,
        "the hours untouched"
    );
    let to_sessions = app
        .registry
        .update_offering(UpdateOfferingRequest {
            offering: Some(Offering {
                name: first.name.clone(),
                ..job_fair()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["sessions".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(to_sessions.availability, job_fair().availability);
    assert_eq!(to_sessions.display_name, "自助办税机");
    let neither = app
        .registry
        .update_offering(UpdateOfferingRequest {
            offering: Some(Offering {
                name: first.name.clone(),
                ..tax_machine()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["sessions".to_owned()],
            }),
        })
        .await;
    assert_invalid_field(neither, "offering.availability");
    assert_invalid_field(
        app.registry
            .update_offering(UpdateOfferingRequest {
                offering: Some(Offering {
                    name: first.name.clone(),
                    ..Offering::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["create_time".to_owned()],
                }),
            })
            .await,
        "update_mask",
    );

    app.registry
        .delete_offering(DeleteOfferingRequest {
            name: first.name.clone(),
        })
        .await
        .unwrap();
    assert_code(
        app.registry
            .get_offering(GetOfferingRequest {
                name: first.name.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        app.registry
            .delete_offering(DeleteOfferingRequest {
                name: first.name.clone(),
            })
            .await,
        Code::NotFound,
    );

    let trail = app
        .audit
        .list_audit_records(ListAuditRecordsRequest {
            filter: format!("resource = \"{}\"", first.name),
            ..ListAuditRecordsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let methods: Vec<&str> = trail
        .audit_records
        .iter()
        .map(|record| record.method.as_str())
        .collect();
    assert_eq!(
        methods,
        [
            "DeleteOffering",
            "UpdateOffering",
            "UpdateOffering",
            "CreateOffering"
        ],
        "newest first; one record for the retried create, none for what was refused"
    );
}

async fn a_field_worker_reads_offerings_but_only_the_sub_district_of_the_building_changes_them(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let tower = tower(&mut app).await;
    app.create_sub_district("jingansi").await;
    create_resource(
        &mut app,
        "station",
        ResourceKind::ServiceStation,
        0.001,
        Some(&tower.name),
    )
    .await;
    create_resource(&mut app, "corner", ResourceKind::ReadingCorner, 0.003, None).await;
    let machine = create_offering(&mut app.registry, "station", "tax-machine", tax_machine()).await;

    let field_worker = person_in("fw-1", &[Role::FieldWorker], Some("nanjingxilu"), None);
    let mut as_field_worker = registry_as(&app, &field_worker).await;
    let read = as_field_worker
        .get_offering(GetOfferingRequest {
            name: machine.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, machine);
    let listed = as_field_worker
        .list_offerings(ListOfferingsRequest {
            parent: resource_name("-"),
            ..ListOfferingsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.offerings, vec![machine.clone()]);
    let on = as_field_worker
        .search_nearby_resources(search(&tower.name, Some(week_from(this_monday()))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(on.results.len(), 1);
    assert_code(
        as_field_worker
            .create_offering(create_offering_request("station", "club", reading_club()))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        as_field_worker
            .delete_offering(DeleteOfferingRequest {
                name: machine.name.clone(),
            })
            .await,
        Code::PermissionDenied,
    );

    let own_admin = person_in(
        "admin-njxl",
        &[Role::SubDistrictAdmin],
        Some("nanjingxilu"),
        None,
    );
    let mut as_own_admin = registry_as(&app, &own_admin).await;
    create_offering(&mut as_own_admin, "station", "club", reading_club()).await;
    assert_code(
        as_own_admin
            .create_offering(create_offering_request("corner", "club", reading_club()))
            .await,
        Code::PermissionDenied,
    );

    let other_admin = person_in(
        "admin-jas",
        &[Role::SubDistrictAdmin],
        Some("jingansi"),
        None,
    );
    let mut as_other_admin = registry_as(&app, &other_admin).await;
    assert_code(
        as_other_admin
            .create_offering(create_offering_request("station", "fair", job_fair()))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        as_other_admin
            .update_offering(UpdateOfferingRequest {
                offering: Some(Offering {
                    name: machine.name.clone(),
                    display_name: "改名".to_owned(),
                    ..Offering::default()
                }),
                update_mask: None,
            })
            .await,
        Code::PermissionDenied,
    );
    // The district registers what is outside any building.
    create_offering(&mut app.registry, "corner", "club", reading_club()).await;
}

backend_tests!(
    the_500_metre_circle_shows_what_is_on_this_week_nearest_first,
    offering_and_window_input_is_checked_field_by_field,
    offerings_are_created_once_read_listed_changed_and_deleted_with_their_trail,
    a_field_worker_reads_offerings_but_only_the_sub_district_of_the_building_changes_them,
);
