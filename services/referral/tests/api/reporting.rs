//! PostgreSQL's `reporting` schema (docs/reporting.md), read the way a
//! district's BI tool reads it: as a login role granted `louyu_reporting`,
//! after rows were written through each service's own API. Types are
//! native, personal data masked, every column has a Chinese comment, and the
//! service's own tables are refused. PostgreSQL only: SQLite has no schemas
//! or roles, and its migrations never create the views.

use std::str::FromStr;

use louyu_kit::config::ServiceName;
use louyu_kit::time::micros_from_timestamp;
use louyu_proto::registry::v1::*;
use louyu_testkit::TestBackend;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Row};

use crate::helpers::*;

/// A full name and a phone written through the registry's API that must
/// never appear whole in a view.
const STAFF_NAME: &str = "王小明";
const STAFF_PHONE: &str = "13812345678";
const CONTACT_NAME: &str = "赵大宝";
const CONTACT_PHONE: &str = "13900001111";

/// A login role that a district would create for its BI tool, member of
/// `louyu_reporting`, with Shanghai as its time zone; dropped on drop.
struct BiLogin {
    name: String,
    server_url: String,
}

impl BiLogin {
    async fn create(server_url: &str) -> Self {
        let name = format!("louyu_bi_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(server_url).await.expect("connect");
        for statement in [
            format!("CREATE ROLE {name} LOGIN PASSWORD 'bi-test'"),
            format!("GRANT louyu_reporting TO {name}"),
            format!("ALTER ROLE {name} SET TimeZone = 'Asia/Shanghai'"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .expect("set up the BI login");
        }
        admin.close().await.expect("close");
        Self {
            name,
            server_url: server_url.to_owned(),
        }
    }

    async fn connect(&self, database_url: &str) -> PgConnection {
        let options = PgConnectOptions::from_str(database_url)
            .expect("a PostgreSQL URL")
            .username(&self.name)
            .password("bi-test");
        let mut connection = PgConnection::connect_with(&options)
            .await
            .expect("the BI login connects");
        // sqlx sends `TimeZone=UTC` when it connects, as a JDBC driver sends
        // its JVM's zone, and a client's own setting overrides the role's:
        // the session is set as a BI tool running in Shanghai would have it.
        sqlx::raw_sql("SET TimeZone = 'Asia/Shanghai'")
            .execute(&mut connection)
            .await
            .expect("set the time zone");
        connection
    }
}

impl Drop for BiLogin {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&server_url).await {
                    let _ =
                        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
                            .execute(&mut admin)
                            .await;
                }
            });
        })
        .join();
    }
}

/// The last segment of a resource name: the id the tables keep.
fn id_of(name: &str) -> &str {
    name.rsplit('/').next().expect("a resource name")
}

/// Every column of every view in `reporting` and its comment, if any.
async fn view_columns(bi: &mut PgConnection) -> Vec<(String, String, Option<String>)> {
    sqlx::query(
        "SELECT c.relname::text, a.attname::text, d.description \
         FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
         LEFT JOIN pg_description d ON d.objoid = c.oid AND d.objsubid = a.attnum \
         WHERE n.nspname = 'reporting' AND c.relkind = 'v' ORDER BY 1, a.attnum",
    )
    .fetch_all(bi)
    .await
    .expect("the views' columns")
    .into_iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect()
}

/// The type PostgreSQL gives `view.column`, as `format_type` spells it.
async fn column_type(bi: &mut PgConnection, view: &str, column: &str) -> String {
    sqlx::query_scalar(
        "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = ('reporting.' || $1)::regclass AND a.attname = $2",
    )
    .bind(view)
    .bind(column)
    .fetch_one(bi)
    .await
    .unwrap_or_else(|error| panic!("reporting.{view}.{column}: {error}"))
}

/// Every view of the database as JSON text, for looking for personal data.
async fn every_view_as_text(bi: &mut PgConnection) -> String {
    let views: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'reporting' AND c.relkind = 'v'",
    )
    .fetch_all(&mut *bi)
    .await
    .expect("the views");
    let mut text = String::new();
    for view in views {
        let rows: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(row_to_json(v)::text, '') FROM reporting.{view} v"
        )))
        .fetch_one(&mut *bi)
        .await
        .unwrap_or_else(|error| panic!("the BI login reads reporting.{view}: {error}"));
        text.push_str(&rows.unwrap_or_default());
    }
    text
}

/// What holds in every service's database: each view column has a Chinese
/// comment, and the service's own `table` is refused.
async fn assert_reporting_basics(bi: &mut PgConnection, service: &str, table: &str) {
    let columns = view_columns(bi).await;
    assert!(
        columns.len() > 10,
        "{service}: the reporting views have columns: {columns:?}"
    );
    for (view, column, comment) in &columns {
        let comment = comment
            .as_deref()
            .unwrap_or_else(|| panic!("{service}: reporting.{view}.{column} has no comment"));
        assert!(
            comment
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{service}: the comment of reporting.{view}.{column} is not in Chinese: {comment}"
        );
    }
    let refused = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM public.{table} LIMIT 1"
    )))
    .fetch_all(&mut *bi)
    .await
    .expect_err("the service's own table is refused");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|error| error.code())
            .as_deref(),
        Some("42501"),
        "{service}: permission denied on public.{table}: {refused}"
    );
}

/// A timestamptz column's value as microseconds since the epoch, and as the
/// login sees it printed.
async fn instant(bi: &mut PgConnection, query: &str, id: &str) -> (i64, String) {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT (extract(epoch FROM t) * 1000000)::bigint, t::text FROM ({query}) AS q (t)"
    )))
    .bind(id)
    .fetch_one(bi)
    .await
    .unwrap_or_else(|error| panic!("{query}: {error}"));
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bi_login_reads_every_services_reporting_views_in_native_types_masked_and_nothing_else() {
    let Some(server_url) = louyu_testkit::postgres_server_url() else {
        return;
    };
    let Some(mut suite) = spawn_suite(TestBackend::Postgres).await else {
        return;
    };
    let staff = suite
        .registry
        .create_staff(CreateStaffRequest {
            parent: DISTRICT.to_owned(),
            staff: Some(Staff {
                display_name: STAFF_NAME.to_owned(),
                phone: STAFF_PHONE.to_owned(),
                active: true,
                ..Staff::default()
            }),
            staff_id: "s-report".to_owned(),
            request_id: String::new(),
        })
        .await
        .expect("a member of staff")
        .into_inner();
    let enterprise = suite
        .registry
        .create_enterprise(CreateEnterpriseRequest {
            parent: DISTRICT.to_owned(),
            enterprise: Some(Enterprise {
                uscc: uscc(7),
                display_name: "上海报表测试有限公司".to_owned(),
                industry: "信息技术".to_owned(),
                headcount: 30,
                contacts: vec![Contact {
                    person_name: CONTACT_NAME.to_owned(),
                    title: "总经理".to_owned(),
                    phone: CONTACT_PHONE.to_owned(),
                    email: "zhao@example.cn".to_owned(),
                }],
                ..Enterprise::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("an enterprise with a contact")
        .into_inner();
    let referral = suite.office_space_referral().await;
    let demand = referral.demand.clone();
    let bi_login = BiLogin::create(&server_url).await;

    // Registry.
    let mut bi = bi_login
        .connect(suite.sandbox.database_url(ServiceName::Registry))
        .await;
    assert_reporting_basics(&mut bi, "registry", "staff").await;
    let (created_at, printed) = instant(
        &mut bi,
        "SELECT created_at FROM reporting.staff WHERE id = $1",
        "s-report",
    )
    .await;
    assert_eq!(
        created_at,
        micros_from_timestamp(staff.create_time.as_ref().expect("a create time")),
        "the view's timestamptz is the instant written"
    );
    assert!(printed.ends_with("+08"), "Shanghai time: {printed}");
    let masked: (String, String, bool) = sqlx::query_as(
        "SELECT display_name, phone, active FROM reporting.staff WHERE id = 's-report'",
    )
    .fetch_one(&mut bi)
    .await
    .expect("the staff row");
    assert_eq!(masked, ("王**".to_owned(), "138****5678".to_owned(), true));
    let contacts: String =
        sqlx::query_scalar("SELECT contacts::text FROM reporting.enterprises WHERE uscc = $1")
            .bind(&enterprise.uscc)
            .fetch_one(&mut bi)
            .await
            .expect("the enterprise row");
    assert!(
        contacts.contains("赵**") && contacts.contains("139****1111"),
        "masked contacts: {contacts}"
    );
    assert_eq!(
        column_type(&mut bi, "enterprises", "contacts").await,
        "jsonb"
    );
    assert_eq!(column_type(&mut bi, "tenancies", "active").await, "boolean");
    assert_eq!(column_type(&mut bi, "tenancies", "lease_end").await, "date");
    assert_eq!(
        column_type(&mut bi, "enterprises", "created_at").await,
        "timestamp with time zone"
    );
    let tenancy_active: bool =
        sqlx::query_scalar("SELECT active FROM reporting.tenancies WHERE uscc = $1")
            .bind(uscc(1))
            .fetch_one(&mut bi)
            .await
            .expect("the tenancy");
    assert!(tenancy_active);
    let everything = every_view_as_text(&mut bi).await;
    for personal in [
        STAFF_NAME,
        STAFF_PHONE,
        CONTACT_NAME,
        CONTACT_PHONE,
        "zhao@example.cn",
    ] {
        assert!(
            !everything.contains(personal),
            "a registry view shows {personal} in full"
        );
    }
    bi.close().await.expect("close");

    // Visits.
    let mut bi = bi_login
        .connect(suite.sandbox.database_url(ServiceName::Visits))
        .await;
    assert_reporting_basics(&mut bi, "visits", "demands").await;
    let demand_row: (String, bool) =
        sqlx::query_as("SELECT category_label, open FROM reporting.demands WHERE id = $1")
            .bind(id_of(&demand))
            .fetch_one(&mut bi)
            .await
            .expect("the demand row");
    assert_eq!(demand_row, ("办公空间".to_owned(), true));
    assert_eq!(
        column_type(&mut bi, "demands", "created_at").await,
        "timestamp with time zone"
    );
    bi.close().await.expect("close");

    // Risk: the tenant is assessed from the registry's feed.
    let mut bi = bi_login
        .connect(suite.sandbox.database_url(ServiceName::Risk))
        .await;
    assert_reporting_basics(&mut bi, "risk", "assessments").await;
    // One connection polls, as a BI tool's would: the test server's
    // connections are shared by every test running at once.
    let risk_reader = tokio::sync::Mutex::new(bi);
    let reader = &risk_reader;
    eventually("the risk service assesses the tenant", move || async move {
        let mut bi = reader.lock().await;
        let assessed: Option<String> = sqlx::query_scalar(
            "SELECT jsonb_typeof(explanation) FROM reporting.assessments WHERE uscc = $1",
        )
        .bind(uscc(1))
        .fetch_optional(&mut *bi)
        .await
        .expect("the assessments view");
        assessed.as_deref() == Some("object")
    })
    .await;
    let mut bi = risk_reader.into_inner();
    assert_eq!(
        column_type(&mut bi, "assessments", "explanation").await,
        "jsonb"
    );
    assert_eq!(
        column_type(&mut bi, "assessments", "overridden").await,
        "boolean"
    );
    bi.close().await.expect("close");

    // Referral.
    let mut bi = bi_login
        .connect(suite.sandbox.database_url(ServiceName::Referral))
        .await;
    assert_reporting_basics(&mut bi, "referral", "referrals").await;
    let (created_at, _) = instant(
        &mut bi,
        "SELECT created_at FROM reporting.referrals WHERE id = $1",
        id_of(&referral.name),
    )
    .await;
    assert_eq!(
        created_at,
        micros_from_timestamp(referral.create_time.as_ref().expect("a create time")),
        "the referral's timestamptz is the instant written"
    );
    let lead: String = sqlx::query_scalar(
        "SELECT department_id FROM reporting.referral_departments WHERE referral_id = $1 AND lead",
    )
    .bind(id_of(&referral.name))
    .fetch_one(&mut bi)
    .await
    .expect("the lead department");
    assert_eq!(lead, STREET_OFFICE);
    let history: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM reporting.referral_history WHERE referral_id = $1",
    )
    .bind(id_of(&referral.name))
    .fetch_one(&mut bi)
    .await
    .expect("the referral's history");
    assert!(history >= 1, "the referral's moves are listed");
    assert_eq!(
        column_type(&mut bi, "referrals", "offered_units").await,
        "jsonb"
    );
    bi.close().await.expect("close");
}
