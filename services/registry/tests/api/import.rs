use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use louyu_testkit::backend_tests;

use crate::helpers::*;

async fn import(app: &mut TestApp, kind: ImportKind, csv: &str) -> ImportRecordsResponse {
    app.registry
        .import_records(ImportRecordsRequest {
            parent: DISTRICT.to_owned(),
            kind: kind as i32,
            csv: csv.as_bytes().to_vec(),
            validate_only: false,
            ..Default::default()
        })
        .await
        .expect("import")
        .into_inner()
}

async fn import_applies_good_rows_and_reports_each_bad_row_with_its_line_and_column(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;

    let buildings = "\u{feff}楼宇编号,楼宇名称,地址,纬度,经度,地上层数,所属街道\n\
        b-1,恒隆广场,南京西路1266号,31.2292,121.4504,66,nanjingxilu\n\
        b-2,无街道大厦,某路1号,,,10,nowhere\n\
        b-3,,某路2号,,,10,nanjingxilu\n";
    let response = import(&mut app, ImportKind::Buildings, buildings).await;
    assert_eq!((response.total_rows, response.applied_rows), (3, 1));
    let problems: Vec<(i32, &str)> = response
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect();
    assert_eq!(problems, vec![(3, "所属街道"), (4, "楼宇名称")]);

    let units = "building_id,unit_id,display_name,floor,area_square_meters\n\
        b-1,1001,10F-01,10,300\n\
        b-1,1002,10F-02,10,-5\n\
        b-9,1001,10F-01,10,300\n";
    let response = import(&mut app, ImportKind::Units, units).await;
    assert_eq!(response.applied_rows, 1);
    let problems: Vec<(i32, &str)> = response
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![(3, "area_square_meters"), (4, "building_id")]
    );

    let good = uscc(60);
    let wrong_check = format!(
        "{}{}",
        &good[..17],
        if good.ends_with('0') { '1' } else { '0' }
    );
    let enterprises = format!(
        "统一社会信用代码,企业名称,员工人数,状态\n{good},示例科技,80,在营\n{wrong_check},坏代码公司,10,在营\n{},负人数公司,-3,在营\n",
        uscc(61)
    );
    let response = import(&mut app, ImportKind::Enterprises, &enterprises).await;
    assert_eq!(response.applied_rows, 1);
    let problems: Vec<(i32, &str)> = response
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect();
    assert_eq!(problems, vec![(3, "统一社会信用代码"), (4, "员工人数")]);

    // A second file with fewer columns changes only those columns.
    let renamed = import(
        &mut app,
        ImportKind::Enterprises,
        &format!("uscc,企业名称\n{good},示例科技（上海）\n"),
    )
    .await;
    assert_eq!(renamed.applied_rows, 1);
    let fetched = app
        .registry
        .get_enterprise(GetEnterpriseRequest {
            name: format!("{DISTRICT}/enterprises/{good}"),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.display_name, "示例科技（上海）");
    assert_eq!(
        fetched.headcount, 80,
        "a column the file lacks keeps its value"
    );

    let tenancies = format!(
        "uscc,building_id,unit_id,lease_start,lease_end\n{good},b-1,1001,2024-01-01,2026-12-31\n{good},b-1,1001,2027-01-01,2026-12-31\n"
    );
    let response = import(&mut app, ImportKind::Tenancies, &tenancies).await;
    assert_eq!(response.applied_rows, 1);
    assert_eq!(response.errors.len(), 1);
    assert_eq!(
        (response.errors[0].line, response.errors[0].field.as_str()),
        (3, "lease_end")
    );
    // The same file again: the tenancy is already there, nothing doubles.
    let again = import(&mut app, ImportKind::Tenancies, &tenancies).await;
    assert_eq!(again.applied_rows, 1);
    let active = app
        .registry
        .list_tenancies(ListTenanciesRequest {
            parent: DISTRICT.to_owned(),
            filter: "state = ACTIVE".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(active.tenancies.len(), 1);

    let buildings = app
        .registry
        .list_buildings(ListBuildingsRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(buildings.buildings.len(), 1, "bad rows left nothing behind");
}

async fn a_file_with_an_unknown_column_is_rejected_whole(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let result = app
        .registry
        .import_records(ImportRecordsRequest {
            parent: DISTRICT.to_owned(),
            kind: ImportKind::Enterprises as i32,
            csv: format!("uscc,display_name,colour\n{},示例,red\n", uscc(70)).into_bytes(),
            validate_only: false,
            ..Default::default()
        })
        .await;
    assert_invalid_field(result, "csv");
    let not_utf8 = app
        .registry
        .import_records(ImportRecordsRequest {
            parent: DISTRICT.to_owned(),
            kind: ImportKind::Enterprises as i32,
            csv: vec![0xff, 0xfe, b'a'],
            validate_only: false,
            ..Default::default()
        })
        .await;
    assert_invalid_field(not_utf8, "csv");
    let checked_only = app
        .registry
        .import_records(ImportRecordsRequest {
            parent: DISTRICT.to_owned(),
            kind: ImportKind::Enterprises as i32,
            csv: format!("uscc,display_name\n{},示例\n", uscc(71)).into_bytes(),
            validate_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked_only.applied_rows, 1);
    let listed = app
        .registry
        .list_enterprises(ListEnterprisesRequest {
            parent: DISTRICT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.enterprises.is_empty(),
        "validate_only applies nothing"
    );
}

fn lines_and_fields(response: &ImportRecordsResponse) -> Vec<(i32, &str)> {
    response
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str()))
        .collect()
}

/// A code with the wrong check character.
fn bad_uscc(n: u32) -> String {
    let good = uscc(n);
    format!(
        "{}{}",
        &good[..17],
        if good.ends_with('0') { '1' } else { '0' }
    )
}

async fn row_errors_name_the_physical_line_of_an_excel_file_with_crlf_blank_lines_and_multi_line_cells(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    let multi_line = uscc(80);
    // What Excel's "CSV UTF-8" writes: a byte-order mark, CRLF line ends, a
    // cell typed with Alt+Enter quoted over two lines, a blank line, and
    // `,,` for a row whose cells were formatted but left empty.
    let excel = format!(
        "\u{feff}统一社会信用代码,企业名称,注册地址\r\n\
         {multi_line},多行地址公司,\"上海市静安区南京西路1266号\n恒隆广场12楼\"\r\n\
         \r\n\
         {},坏代码公司,某路1号\r\n\
         ,,\r\n\
         {},\"名称\r\n不能换行\",某路2号\r\n",
        bad_uscc(81),
        uscc(82),
    );
    let response = import(&mut app, ImportKind::Enterprises, &excel).await;
    assert_eq!(
        lines_and_fields(&response),
        vec![(5, "统一社会信用代码"), (7, "企业名称")]
    );
    assert_eq!((response.total_rows, response.applied_rows), (3, 1));
    let imported = app
        .registry
        .get_enterprise(GetEnterpriseRequest {
            name: format!("{DISTRICT}/enterprises/{multi_line}"),
        })
        .await
        .expect("the row with a multi-line address is imported")
        .into_inner();
    assert_eq!(
        imported.registered_address,
        "上海市静安区南京西路1266号\n恒隆广场12楼"
    );

    let unix = format!(
        "uscc,display_name\n\n{},坏代码公司\n\n\n{},又一家\n",
        bad_uscc(83),
        bad_uscc(84)
    );
    let response = import(&mut app, ImportKind::Enterprises, &unix).await;
    assert_eq!(lines_and_fields(&response), vec![(3, "uscc"), (6, "uscc")]);
}

async fn an_empty_file_is_rejected_as_having_no_header_row(backend: TestBackend) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    for empty in ["", "\u{feff}", "\r\n\r\n", "\u{feff}\n\n"] {
        let status = app
            .registry
            .import_records(ImportRecordsRequest {
                parent: DISTRICT.to_owned(),
                kind: ImportKind::Enterprises as i32,
                csv: empty.as_bytes().to_vec(),
                validate_only: false,
                ..Default::default()
            })
            .await
            .expect_err("an empty file is rejected");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{empty:?}");
        assert!(
            status.message().contains("empty or has no header row"),
            "{empty:?}: {}",
            status.message()
        );
        assert!(!status.message().contains("missing required"), "{empty:?}");
    }
}

async fn an_upper_case_unit_id_is_rejected_by_the_api_and_by_import_naming_its_lower_case_form(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    app.create_building("b-1", "nanjingxilu", None).await;
    let status = app
        .registry
        .create_unit(CreateUnitRequest {
            parent: format!("{DISTRICT}/buildings/b-1"),
            unit: Some(Unit {
                display_name: "B1-01".to_owned(),
                floor: -1,
                area_square_meters: 120.0,
                ..Unit::default()
            }),
            unit_id: "B1-01".to_owned(),
            request_id: String::new(),
        })
        .await;
    let status = assert_code(status, tonic::Code::InvalidArgument);
    assert!(status.message().contains("unit_id"), "{}", status.message());
    assert!(status.message().contains("'b1-01'"), "{}", status.message());

    let units =
        "楼宇编号,单元编号,单元名称,楼层,面积\nb-1,B1-01,B1-01,-1,120\nb-1,b1-02,B1-02,-1,80\n";
    let response = import(&mut app, ImportKind::Units, units).await;
    assert_eq!(lines_and_fields(&response), vec![(2, "单元编号")]);
    assert!(
        response.errors[0].message.contains("'b1-01'"),
        "{}",
        response.errors[0].message
    );
    assert_eq!(response.applied_rows, 1);
    let listed = app
        .registry
        .list_units(ListUnitsRequest {
            parent: format!("{DISTRICT}/buildings/b-1"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed.units.iter().map(|unit| unit.name.as_str()).collect();
    assert_eq!(names, vec!["districts/jingan/buildings/b-1/units/b1-02"]);
}

async fn an_import_keeps_buildings_without_a_location_and_with_one_in_any_order(
    backend: TestBackend,
) {
    let Some(mut app) = spawn_app(backend).await else {
        return;
    };
    app.create_sub_district("nanjingxilu").await;
    // One import runs on one connection: on PostgreSQL, the row without a
    // location prepares the statement that the rows with one then run.
    let without_a_location_first = "楼宇编号,楼宇名称,地址,纬度,经度,地上层数,所属街道\n\
        b-1,一号楼,某路1号,,,10,nanjingxilu\n\
        b-2,二号楼,某路2号,31.2292,121.4504,10,nanjingxilu\n\
        b-3,三号楼,某路3号,,,10,nanjingxilu\n\
        b-4,四号楼,某路4号,31.2301,121.4517,10,nanjingxilu\n";
    let created = import(&mut app, ImportKind::Buildings, without_a_location_first).await;
    assert_eq!(
        (created.applied_rows, created.errors.len()),
        (4, 0),
        "{created:?}"
    );
    // The same buildings again, each location swapped: updates, again a
    // building without a location first.
    let swapped = "楼宇编号,楼宇名称,地址,纬度,经度,地上层数,所属街道\n\
        b-2,二号楼,某路2号,,,10,nanjingxilu\n\
        b-1,一号楼,某路1号,31.2283,121.4491,10,nanjingxilu\n\
        b-4,四号楼,某路4号,,,10,nanjingxilu\n\
        b-3,三号楼,某路3号,31.2275,121.4488,10,nanjingxilu\n";
    let updated = import(&mut app, ImportKind::Buildings, swapped).await;
    assert_eq!(
        (updated.applied_rows, updated.errors.len()),
        (4, 0),
        "{updated:?}"
    );

    let expected = [
        ("b-1", Some((31.2283, 121.4491))),
        ("b-2", None),
        ("b-3", Some((31.2275, 121.4488))),
        ("b-4", None),
    ];
    for (building_id, location) in expected {
        let building = app
            .registry
            .get_building(GetBuildingRequest {
                name: format!("{DISTRICT}/buildings/{building_id}"),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let read = building
            .location
            .map(|location| (location.latitude, location.longitude));
        assert_eq!(read, location, "{building_id}");
    }
}

backend_tests!(
    import_applies_good_rows_and_reports_each_bad_row_with_its_line_and_column,
    a_file_with_an_unknown_column_is_rejected_whole,
    row_errors_name_the_physical_line_of_an_excel_file_with_crlf_blank_lines_and_multi_line_cells,
    an_empty_file_is_rejected_as_having_no_header_row,
    an_upper_case_unit_id_is_rejected_by_the_api_and_by_import_naming_its_lower_case_form,
    an_import_keeps_buildings_without_a_location_and_with_one_in_any_order,
);
