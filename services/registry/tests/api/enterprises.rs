use louyu_proto::common::v1::ListAuditRecordsRequest;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;
use tonic::Code;

use crate::helpers::*;

async fn create_enterprise_normalises_the_code_and_get_returns_it(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let code = uscc(1);
    let mut request = enterprise(&format!("  {} ", code.to_lowercase()));
    request.status = 0;
    let created = app
        .registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(request),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.uscc, code);
    assert_eq!(created.name, format!("{DISTRICT}/enterprises/{code}"));
    assert_eq!(
        created.status,
        EnterpriseStatus::Active as i32,
        "status defaults to active"
    );
    assert_eq!(created.contacts.len(), 1);

    let fetched = app
        .registry
        .get_enterprise(GetEnterpriseRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched, created);

    let duplicate = app
        .registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(enterprise(&code)),
            request_id: String::new(),
        })
        .await;
    assert_code(duplicate, Code::AlreadyExists);
    let missing = app
        .registry
        .get_enterprise(GetEnterpriseRequest {
            name: format!("{DISTRICT}/enterprises/{}", uscc(2)),
        })
        .await;
    assert_code(missing, Code::NotFound);
}

async fn create_enterprise_rejects_bad_input_naming_the_field_and_writes_nothing(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let valid = uscc(3);
    let wrong_check = format!(
        "{}{}",
        &valid[..17],
        if valid.ends_with('0') { '1' } else { '0' }
    );
    let mut cases: Vec<(Enterprise, &str)> = Vec::new();
    for (code, field) in [
        (wrong_check.as_str(), "enterprise.uscc"),
        (&valid[..17], "enterprise.uscc"),
        ("9131000IMA1G5KT011", "enterprise.uscc"),
        ("9131000OMA1G5KT011", "enterprise.uscc"),
        ("9131000SMA1G5KT011", "enterprise.uscc"),
        ("9131000VMA1G5KT011", "enterprise.uscc"),
        ("9131000ZMA1G5KT011", "enterprise.uscc"),
    ] {
        cases.push((enterprise(code), field));
    }
    cases.push((
        Enterprise {
            display_name: String::new(),
            ..enterprise(&valid)
        },
        "enterprise.display_name",
    ));
    cases.push((
        Enterprise {
            display_name: "企".repeat(10_000),
            ..enterprise(&valid)
        },
        "enterprise.display_name",
    ));
    cases.push((
        Enterprise {
            headcount: -1,
            ..enterprise(&valid)
        },
        "enterprise.headcount",
    ));
    cases.push((
        Enterprise {
            party_members: -5,
            ..enterprise(&valid)
        },
        "enterprise.party_members",
    ));
    cases.push((
        Enterprise {
            status: 42,
            ..enterprise(&valid)
        },
        "enterprise.status",
    ));
    let mut bad_phone = enterprise(&valid);
    bad_phone.contacts[0].phone = "call me".to_owned();
    cases.push((bad_phone, "enterprise.contacts[0].phone"));

    for (body, field) in cases {
        let result = app
            .registry
            .create_enterprise(CreateEnterpriseRequest {
                parent: DISTRICT.to_owned(),
                enterprise: Some(body),
                request_id: String::new(),
            })
            .await;
        let status = result.as_ref().err().cloned();
        assert_invalid_field(result, field);
        let message = status.unwrap().message().to_owned();
        assert!(
            !message.contains("13800138000"),
            "no personal data in errors: {message}"
        );
    }

    let other_district = app
        .registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: "districts/xuhui".to_owned(),
            enterprise: Some(enterprise(&valid)),
            request_id: String::new(),
        })
        .await;
    assert_invalid_field(other_district, "parent");

    let listed = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.enterprises.is_empty(), "nothing was written");
    let audit = app
        .audit
        .list_audit_records(ListAuditRecordsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        audit.audit_records.is_empty(),
        "no audit record for rejected calls"
    );
}

async fn a_retried_create_returns_the_first_result_and_a_reused_request_id_is_rejected(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let request = CreateEnterpriseRequest {
        parent: DISTRICT.to_owned(),
        enterprise: Some(enterprise(&uscc(4))),
        request_id: "5b0c8f7e-1d2a-4c55-9a61-3f7c2e9d8b10".to_owned(),
    };
    let first = app
        .registry
        .create_enterprise(request.clone())
        .await
        .unwrap()
        .into_inner();
    let retried = app
        .registry
        .create_enterprise(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, retried, "a retry returns the first response");

    let mut different = request.clone();
    different.enterprise = Some(enterprise(&uscc(5)));
    assert_invalid_field(
        app.registry.create_enterprise(different).await,
        "request_id",
    );

    let listed = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.enterprises.len(), 1, "one enterprise, not two");
}

async fn enterprises_page_through_with_tokens_and_tampered_tokens_are_rejected(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    for n in 10..15 {
        app.create_enterprise(&uscc(n)).await;
    }
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .registry
            .list_enterprises(ListEnterprisesRequest {
                parent: DISTRICT.to_owned(),
                page_size: 2,
                page_token: token.clone(),
                filter: "status = ACTIVE".to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(page.enterprises.len() <= 2);
        names.extend(
            page.enterprises
                .into_iter()
                .map(|enterprise| enterprise.name),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5, "every enterprise exactly once: {names:?}");

    let first = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut tampered = first.next_page_token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let result = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            page_size: 2,
            page_token: tampered,
            ..Default::default()
        })
        .await;
    assert_invalid_field(result, "page_token");
    let other_filter = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            page_size: 2,
            page_token: first.next_page_token,
            filter: "headcount > 5".to_owned(),
        })
        .await;
    assert_invalid_field(other_filter, "page_token");
    let negative = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            page_size: -1,
            ..Default::default()
        })
        .await;
    assert_invalid_field(negative, "page_size");
    let bad_filter = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            filter: "colour = \"red\"".to_owned(),
            ..Default::default()
        })
        .await;
    assert_invalid_field(bad_filter, "filter");
}

async fn update_enterprise_changes_only_the_masked_fields_and_rejects_unknown_paths(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let code = uscc(20);
    let created = app.create_enterprise(&code).await;
    let patch = Enterprise {
        name: created.name.clone(),
        headcount: 150,
        industry: "should not change".to_owned(),
        ..Enterprise::default()
    };
    let updated = app
        .registry
        .update_enterprise(UpdateEnterpriseRequest {
            enterprise: Some(patch.clone()),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["headcount".to_owned()],
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.headcount, 150);
    assert_eq!(updated.industry, created.industry);
    assert_eq!(updated.contacts, created.contacts);

    for (paths, field) in [
        (vec!["colour"], "update_mask"),
        (vec!["uscc"], "update_mask"),
    ] {
        let result = app
            .registry
            .update_enterprise(UpdateEnterpriseRequest {
                enterprise: Some(patch.clone()),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|path| path.to_string()).collect(),
                }),
            })
            .await;
        assert_invalid_field(result, field);
    }
    let negative = app
        .registry
        .update_enterprise(UpdateEnterpriseRequest {
            enterprise: Some(Enterprise {
                name: created.name.clone(),
                headcount: -3,
                ..Enterprise::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["headcount".to_owned()],
            }),
        })
        .await;
    assert_invalid_field(negative, "enterprise.headcount");
    let fetched = app
        .registry
        .get_enterprise(GetEnterpriseRequest { name: created.name })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.headcount, 150, "rejected updates wrote nothing");
}

backend_tests!(
    create_enterprise_normalises_the_code_and_get_returns_it,
    create_enterprise_rejects_bad_input_naming_the_field_and_writes_nothing,
    a_retried_create_returns_the_first_result_and_a_reused_request_id_is_rejected,
    enterprises_page_through_with_tokens_and_tampered_tokens_are_rejected,
    update_enterprise_changes_only_the_masked_fields_and_rejects_unknown_paths,
);
