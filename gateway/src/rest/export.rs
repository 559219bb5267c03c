//! Exports of the lists the live screen shows, as CSV (UTF-8 with a byte
//! order mark, so Excel reads Chinese) and XLSX (rust_xlsxwriter), for
//! people and for other systems alike:
//! `GET /v1/exports/{demands|enterprise-colours|overdue-referrals|scorecard}.{csv|xlsx}?parent=districts/{district}&filter=…`.
//!
//! The gateway reads no database: it pages through the owning service's
//! List RPC (or calls `ComputeScorecard`) through the same [`Forwarder`] as
//! REST calls, with the caller's own `authorization`, so an export holds
//! exactly the rows, and the masking, the caller's list would. An export is
//! bounded: past [`MAX_EXPORT_ROWS`] rows it is refused, naming the filter
//! that narrows it, rather than cut short.
//!
//! [`Forwarder`]: crate::forward::Forwarder

use bytes::Bytes;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, MethodDescriptor};
use serde_json::{Map, Value as Json, json};
use tonic::body::Body;
use tonic::{Code, Status};

use super::routes::percent_decode;
use super::{Inner, status_response, to_json};

/// The most rows one export holds; a larger one is refused.
pub const MAX_EXPORT_ROWS: usize = 20_000;

/// Where exports are served: `{EXPORT_PREFIX}{kind}.{format}`.
pub const EXPORT_PREFIX: &str = "/v1/exports/";

/// The page size asked of the owner while paging through a list.
const PAGE_SIZE: i64 = 1000;

/// The byte order mark that makes Excel read a CSV file as UTF-8.
const UTF8_BOM: &str = "\u{feff}";

/// What an export is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Demands,
    EnterpriseColours,
    OverdueReferrals,
    Scorecard,
}

/// The file an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

/// One export asked for by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export {
    pub kind: ExportKind,
    pub format: ExportFormat,
}

impl ExportKind {
    const ALL: [ExportKind; 4] = [
        ExportKind::Demands,
        ExportKind::EnterpriseColours,
        ExportKind::OverdueReferrals,
        ExportKind::Scorecard,
    ];

    fn slug(self) -> &'static str {
        match self {
            ExportKind::Demands => "demands",
            ExportKind::EnterpriseColours => "enterprise-colours",
            ExportKind::OverdueReferrals => "overdue-referrals",
            ExportKind::Scorecard => "scorecard",
        }
    }

    /// The sheet's name in an XLSX file.
    fn sheet_name(self) -> &'static str {
        match self {
            ExportKind::Demands => "诉求",
            ExportKind::EnterpriseColours => "企业颜色",
            ExportKind::OverdueReferrals => "超期转办",
            ExportKind::Scorecard => "考核",
        }
    }

    /// The owner's method, and the field of its answer that holds the rows.
    fn source(self) -> (&'static str, &'static str) {
        match self {
            ExportKind::Demands => ("louyu.visits.v1.VisitsService.ListDemands", "demands"),
            ExportKind::EnterpriseColours => {
                ("louyu.risk.v1.RiskService.ListAssessments", "assessments")
            }
            ExportKind::OverdueReferrals => (
                "louyu.referral.v1.ReferralService.ListReferrals",
                "referrals",
            ),
            ExportKind::Scorecard => (
                "louyu.referral.v1.ReferralService.ComputeScorecard",
                "lines",
            ),
        }
    }

    /// The columns: Chinese header, English header, and the cell of a row
    /// (the row's proto3 JSON).
    fn columns(self) -> &'static [Column] {
        match self {
            ExportKind::Demands => DEMAND_COLUMNS,
            ExportKind::EnterpriseColours => COLOUR_COLUMNS,
            ExportKind::OverdueReferrals => REFERRAL_COLUMNS,
            ExportKind::Scorecard => SCORECARD_COLUMNS,
        }
    }
}

/// One column of an export.
struct Column {
    zh: &'static str,
    en: &'static str,
    cell: fn(&Json) -> Cell,
}

/// A cell: text, or a number Excel can sum.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Number(f64),
}

impl Cell {
    fn as_text(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Number(number) => number.to_string(),
        }
    }
}

fn text(row: &Json, field: &str) -> Cell {
    Cell::Text(plain(&row[field]))
}

fn number(row: &Json, field: &str) -> Cell {
    match &row[field] {
        Json::Number(number) => Cell::Number(number.as_f64().unwrap_or_default()),
        Json::String(string) => string
            .parse()
            .map(Cell::Number)
            .unwrap_or_else(|_| Cell::Text(string.clone())),
        _ => Cell::Number(0.0),
    }
}

/// A JSON value as one cell's text: strings as they are, lists joined.
fn plain(value: &Json) -> String {
    match value {
        Json::Null => String::new(),
        Json::String(string) => string.clone(),
        Json::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join("; "),
        other => other.to_string(),
    }
}

/// An enum value's Chinese name beside its own, e.g. `红 RED`.
fn labelled(row: &Json, field: &str) -> Cell {
    let raw = plain(&row[field]);
    let label = ENUM_LABELS
        .iter()
        .find(|(name, _)| *name == raw)
        .map(|(_, label)| *label);
    let short = raw
        .strip_prefix("RISK_COLOUR_")
        .or_else(|| raw.strip_prefix("DEMAND_CATEGORY_"))
        .unwrap_or(&raw);
    Cell::Text(match label {
        Some(label) => format!("{label} {short}"),
        None => raw.clone(),
    })
}

const ENUM_LABELS: &[(&str, &str)] = &[
    ("RISK_COLOUR_GREEN", "绿"),
    ("RISK_COLOUR_BLUE", "蓝"),
    ("RISK_COLOUR_YELLOW", "黄"),
    ("RISK_COLOUR_ORANGE", "橙"),
    ("RISK_COLOUR_RED", "红"),
    ("DEMAND_CATEGORY_OFFICE_SPACE", "办公空间"),
    ("DEMAND_CATEGORY_REGISTRATION_LICENSING", "登记许可"),
    ("DEMAND_CATEGORY_TAX", "税务"),
    ("DEMAND_CATEGORY_FINANCING", "融资"),
    ("DEMAND_CATEGORY_TALENT_HOUSEHOLD", "人才落户"),
    ("DEMAND_CATEGORY_POLICY_CONSULTATION", "政策咨询"),
    ("DEMAND_CATEGORY_PROPERTY_FACILITIES", "物业设施"),
    ("DEMAND_CATEGORY_SAFETY", "安全"),
    ("DEMAND_CATEGORY_LEGAL", "法律"),
    ("DEMAND_CATEGORY_OTHER", "其他"),
];

const DEMAND_COLUMNS: &[Column] = &[
    Column {
        zh: "诉求",
        en: "Demand",
        cell: |row| text(row, "name"),
    },
    Column {
        zh: "企业",
        en: "Enterprise",
        cell: |row| text(row, "enterprise"),
    },
    Column {
        zh: "楼宇",
        en: "Building",
        cell: |row| text(row, "building"),
    },
    Column {
        zh: "街道",
        en: "Sub-district",
        cell: |row| text(row, "subDistrict"),
    },
    Column {
        zh: "类别",
        en: "Category",
        cell: |row| labelled(row, "category"),
    },
    Column {
        zh: "描述",
        en: "Description",
        cell: |row| text(row, "description"),
    },
    Column {
        zh: "紧急程度",
        en: "Urgency",
        cell: |row| text(row, "urgency"),
    },
    Column {
        zh: "状态",
        en: "Status",
        cell: |row| text(row, "status"),
    },
    Column {
        zh: "提出次数",
        en: "Reports",
        cell: |row| number(row, "reportCount"),
    },
    Column {
        zh: "转办",
        en: "Referral",
        cell: |row| text(row, "referral"),
    },
    Column {
        zh: "创建时间",
        en: "Created",
        cell: |row| text(row, "createTime"),
    },
];

const COLOUR_COLUMNS: &[Column] = &[
    Column {
        zh: "企业",
        en: "Enterprise",
        cell: |row| text(row, "enterprise"),
    },
    Column {
        zh: "楼宇",
        en: "Building",
        cell: |row| text(row, "building"),
    },
    Column {
        zh: "颜色",
        en: "Colour",
        cell: |row| labelled(row, "effectiveColour"),
    },
    Column {
        zh: "计算颜色",
        en: "Computed colour",
        cell: |row| labelled(row, "colour"),
    },
    Column {
        zh: "分值",
        en: "Score",
        cell: |row| number(row, "score"),
    },
    Column {
        zh: "因素说明",
        en: "Factors",
        cell: |row| {
            let factors = row["factors"].as_array().cloned().unwrap_or_default();
            Cell::Text(
                factors
                    .iter()
                    .map(|factor| {
                        format!(
                            "{} / {} ({})",
                            plain(&factor["reason"]["zh"]),
                            plain(&factor["reason"]["en"]),
                            plain(&factor["points"])
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        },
    },
    Column {
        zh: "评估时间",
        en: "Assessed",
        cell: |row| text(row, "assessTime"),
    },
];

const REFERRAL_COLUMNS: &[Column] = &[
    Column {
        zh: "转办",
        en: "Referral",
        cell: |row| text(row, "name"),
    },
    Column {
        zh: "诉求",
        en: "Demand",
        cell: |row| text(row, "demand"),
    },
    Column {
        zh: "企业",
        en: "Enterprise",
        cell: |row| text(row, "enterprise"),
    },
    Column {
        zh: "楼宇",
        en: "Building",
        cell: |row| text(row, "building"),
    },
    Column {
        zh: "街道",
        en: "Sub-district",
        cell: |row| text(row, "subDistrict"),
    },
    Column {
        zh: "类别",
        en: "Category",
        cell: |row| labelled(row, "category"),
    },
    Column {
        zh: "状态",
        en: "State",
        cell: |row| text(row, "state"),
    },
    Column {
        zh: "牵头部门",
        en: "Lead department",
        cell: |row| text(row, "leadDepartment"),
    },
    Column {
        zh: "完成时限",
        en: "Complete by",
        cell: |row| Cell::Text(plain(&row["clocks"]["completeDueTime"])),
    },
    Column {
        zh: "创建时间",
        en: "Created",
        cell: |row| text(row, "createTime"),
    },
];

const SCORECARD_COLUMNS: &[Column] = &[
    Column {
        zh: "排名",
        en: "Rank",
        cell: |row| number(row, "rank"),
    },
    Column {
        zh: "单位",
        en: "Group",
        cell: |row| text(row, "group"),
    },
    Column {
        zh: "派单数",
        en: "Dispatched",
        cell: |row| number(row, "dispatched"),
    },
    Column {
        zh: "考核数",
        en: "Assessed",
        cell: |row| number(row, "assessed"),
    },
    Column {
        zh: "响应率",
        en: "Response rate",
        cell: |row| number(row, "responseRate"),
    },
    Column {
        zh: "解决率",
        en: "Resolution rate",
        cell: |row| number(row, "resolutionRate"),
    },
    Column {
        zh: "满意率",
        en: "Satisfaction rate",
        cell: |row| number(row, "satisfactionRate"),
    },
    Column {
        zh: "退回数",
        en: "Returns",
        cell: |row| number(row, "returns"),
    },
    Column {
        zh: "得分",
        en: "Score",
        cell: |row| number(row, "score"),
    },
];

/// The export a path asks for, `/v1/exports/{kind}.{csv|xlsx}`.
pub fn export_of_path(path: &str) -> Option<Export> {
    let file = path.strip_prefix(EXPORT_PREFIX)?;
    let (slug, extension) = file.rsplit_once('.')?;
    let kind = ExportKind::ALL
        .into_iter()
        .find(|kind| kind.slug() == slug)?;
    let format = match extension {
        "csv" => ExportFormat::Csv,
        "xlsx" => ExportFormat::Xlsx,
        _ => return None,
    };
    Some(Export { kind, format })
}

/// Why an export was refused before or while it was read.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("缺少参数 parent missing: name the district, e.g. parent=districts/jingan")]
    MissingParent,
    #[error("查询参数无效 bad query parameter {0:?}: not one an export takes")]
    UnknownParameter(String),
    #[error(
        "导出超过 {limit} 行 the export exceeds {limit} rows: narrow it with the filter parameter"
    )]
    TooManyRows { limit: usize },
}

fn refused(error: &ExportError) -> http::Response<Body> {
    status_response(&Status::new(Code::InvalidArgument, error.to_string()))
}

/// The query of an export: the district, the list's filter, the language
/// of the headers, and the scorecard's own parameters.
#[derive(Debug, Default)]
struct ExportQuery {
    parent: String,
    filter: String,
    english: bool,
    group_by: String,
    start_time: String,
    end_time: String,
}

fn parse_query(query: Option<&str>) -> Result<ExportQuery, ExportError> {
    let mut parsed = ExportQuery::default();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(&value.replace('+', " "));
        match key {
            "parent" => parsed.parent = value,
            "filter" => parsed.filter = value,
            "lang" => parsed.english = value == "en",
            "groupBy" | "group_by" => parsed.group_by = value,
            "startTime" | "start_time" => parsed.start_time = value,
            "endTime" | "end_time" => parsed.end_time = value,
            other => return Err(ExportError::UnknownParameter(other.to_owned())),
        }
    }
    if parsed.parent.is_empty() {
        return Err(ExportError::MissingParent);
    }
    Ok(parsed)
}

/// The exports' methods, resolved once at start.
pub struct Exports {
    methods: Vec<(ExportKind, MethodDescriptor)>,
}

impl Exports {
    pub fn new(pool: &DescriptorPool) -> anyhow::Result<Self> {
        let methods = ExportKind::ALL
            .into_iter()
            .map(|kind| {
                let (full_name, _) = kind.source();
                let (service, method) = full_name.rsplit_once('.').expect("a full name");
                let rpc = pool
                    .get_service_by_name(service)
                    .and_then(|service| service.methods().find(|found| found.name() == method))
                    .ok_or_else(|| anyhow::anyhow!("the exports need {full_name}"))?;
                Ok((kind, rpc))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { methods })
    }

    fn rpc(&self, kind: ExportKind) -> &MethodDescriptor {
        &self
            .methods
            .iter()
            .find(|(found, _)| *found == kind)
            .expect("every kind resolved")
            .1
    }
}

/// Answers an export: pages through the owner's list as the caller.
pub(super) async fn answer(
    inner: &Inner,
    export: Export,
    query: Option<&str>,
    headers: &http::HeaderMap,
) -> http::Response<Body> {
    let query = match parse_query(query) {
        Ok(query) => query,
        Err(error) => return refused(&error),
    };
    let rows = match rows(inner, export.kind, &query, headers).await {
        Ok(rows) => rows,
        Err(Refusal::Export(error)) => return refused(&error),
        Err(Refusal::Owner(status)) => return status_response(&status),
    };
    let columns = export.kind.columns();
    let header: Vec<&str> = columns
        .iter()
        .map(|column| if query.english { column.en } else { column.zh })
        .collect();
    let cells: Vec<Vec<Cell>> = rows
        .iter()
        .map(|row| columns.iter().map(|column| (column.cell)(row)).collect())
        .collect();
    let written = match export.format {
        ExportFormat::Csv => {
            write_csv(&header, &cells).map(|bytes| (bytes, "text/csv; charset=utf-8"))
        }
        ExportFormat::Xlsx => write_xlsx(export.kind.sheet_name(), &header, &cells).map(|bytes| {
            (
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )
        }),
    };
    let (bytes, content_type) = match written {
        Ok(written) => written,
        Err(error) => {
            tracing::error!(export = export.kind.slug(), %error, "an export could not be written");
            return status_response(&Status::internal("内部错误 internal error"));
        }
    };
    let extension = match export.format {
        ExportFormat::Csv => "csv",
        ExportFormat::Xlsx => "xlsx",
    };
    http::Response::builder()
        .status(http::StatusCode::OK)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(
            http::header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}.{extension}\"",
                export.kind.slug()
            ),
        )
        .header(http::header::CACHE_CONTROL, "no-store")
        .header("x-export-rows", rows.len().to_string())
        .body(Body::new(http_body_util::Full::new(Bytes::from(bytes))))
        .expect("a valid response")
}

enum Refusal {
    Export(ExportError),
    Owner(Status),
}

/// The rows of an export, each the proto3 JSON of one item of the owner's
/// answer, page after page.
async fn rows(
    inner: &Inner,
    kind: ExportKind,
    query: &ExportQuery,
    headers: &http::HeaderMap,
) -> Result<Vec<Json>, Refusal> {
    let rpc = inner.exports.rpc(kind);
    let (_, items_field) = kind.source();
    let mut rows = Vec::new();
    let mut page_token = String::new();
    loop {
        let mut request = Map::new();
        request.insert("parent".into(), json!(query.parent));
        if kind == ExportKind::Scorecard {
            let now = time::OffsetDateTime::now_utc();
            let rfc3339 = |at: time::OffsetDateTime| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            };
            let start = if query.start_time.is_empty() {
                rfc3339(now - time::Duration::days(30))
            } else {
                query.start_time.clone()
            };
            let end = if query.end_time.is_empty() {
                rfc3339(now)
            } else {
                query.end_time.clone()
            };
            request.insert("startTime".into(), json!(start));
            request.insert("endTime".into(), json!(end));
            request.insert("groupBy".into(), json!(query.group_by));
        } else {
            let filter = match (kind, query.filter.is_empty()) {
                (ExportKind::OverdueReferrals, true) => "overdue = true".to_owned(),
                (ExportKind::OverdueReferrals, false) => {
                    format!("overdue = true AND {}", query.filter)
                }
                _ => query.filter.clone(),
            };
            request.insert("filter".into(), json!(filter));
            request.insert("pageSize".into(), json!(PAGE_SIZE));
            request.insert("pageToken".into(), json!(page_token));
        }
        let input = DynamicMessage::deserialize_with_options(
            rpc.input(),
            Json::Object(request),
            &DeserializeOptions::new(),
        )
        .map_err(|error| {
            Refusal::Owner(Status::invalid_argument(format!(
                "查询参数无效 bad query parameter: {error}"
            )))
        })?;
        let output = inner
            .call(rpc, headers, &input)
            .await
            .map_err(Refusal::Owner)?;
        let answer: Json = serde_json::from_slice(&to_json(&output).map_err(Refusal::Owner)?)
            .map_err(|_| Refusal::Owner(Status::internal("内部错误 internal error")))?;
        let json_items = prost_reflect::ReflectMessage::descriptor(&output)
            .get_field_by_name(items_field)
            .map(|field| field.json_name().to_owned())
            .unwrap_or_default();
        if let Some(items) = answer[json_items.as_str()].as_array() {
            rows.extend(items.iter().cloned());
        }
        if rows.len() > MAX_EXPORT_ROWS {
            return Err(Refusal::Export(ExportError::TooManyRows {
                limit: MAX_EXPORT_ROWS,
            }));
        }
        page_token = plain(&answer["nextPageToken"]);
        if kind == ExportKind::Scorecard || page_token.is_empty() {
            return Ok(rows);
        }
    }
}

fn write_csv(header: &[&str], rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>> {
    let mut out = UTF8_BOM.as_bytes().to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(header)?;
        for row in rows {
            writer.write_record(row.iter().map(Cell::as_text))?;
        }
        writer.flush()?;
    }
    Ok(out)
}

fn write_xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<Cell>]) -> anyhow::Result<Vec<u8>> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    for (column, title) in header.iter().enumerate() {
        sheet.write_string_with_format(0, column as u16, *title, &bold)?;
    }
    for (index, row) in rows.iter().enumerate() {
        let line = index as u32 + 1;
        for (column, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(text) => sheet.write_string(line, column as u16, text)?,
                Cell::Number(number) => sheet.write_number(line, column as u16, *number)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(workbook.save_to_buffer()?)
}

/// The exports' operations, for `/openapi.json`.
pub fn add_to_openapi(document: &mut Json) {
    let Some(paths) = document.get_mut("paths").and_then(Json::as_object_mut) else {
        return;
    };
    for kind in ExportKind::ALL {
        for (extension, media) in [
            ("csv", "text/csv"),
            (
                "xlsx",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
        ] {
            let parameter = |name: &str, required: bool, description: &str| {
                json!({"name": name, "in": "query", "required": required,
                       "description": description, "schema": {"type": "string"}})
            };
            let mut parameters = vec![
                parameter("parent", true, "districts/{district}"),
                parameter("lang", false, "en for English headers; Chinese by default"),
            ];
            if kind == ExportKind::Scorecard {
                parameters.push(parameter(
                    "groupBy",
                    false,
                    "department (default) or sub_district",
                ));
                parameters.push(parameter(
                    "startTime",
                    false,
                    "RFC 3339; 30 days ago by default",
                ));
                parameters.push(parameter("endTime", false, "RFC 3339; now by default"));
            } else {
                parameters.push(parameter("filter", false, "the owner's List filter"));
            }
            paths.insert(
                format!("{EXPORT_PREFIX}{}.{extension}", kind.slug()),
                json!({"get": {
                    "operationId": format!("Exports.{}.{extension}", kind.slug()),
                    "tags": ["exports"],
                    "summary": format!("{} as {extension}, at most {MAX_EXPORT_ROWS} rows, as the caller may see them", kind.sheet_name()),
                    "parameters": parameters,
                    "responses": {
                        "200": {"description": "The file", "content": {media: {"schema": {"type": "string", "format": "binary"}}}},
                        "default": {"description": "An error: the HTTP status of its gRPC code",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    },
                }}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_path_names_a_kind_and_a_format_and_nothing_else_does() {
        assert_eq!(
            export_of_path("/v1/exports/overdue-referrals.xlsx"),
            Some(Export {
                kind: ExportKind::OverdueReferrals,
                format: ExportFormat::Xlsx
            })
        );
        assert_eq!(export_of_path("/v1/exports/demands.pdf"), None);
        assert_eq!(export_of_path("/v1/exports/visits.csv"), None);
    }

    #[test]
    fn csv_starts_with_a_byte_order_mark_and_quotes_what_needs_it() {
        let csv = write_csv(
            &["企业", "描述"],
            &[vec![
                Cell::Text("e-1".into()),
                Cell::Text("办公, 两层".into()),
            ]],
        )
        .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(text, "\u{feff}企业,描述\ne-1,\"办公, 两层\"\n");
    }

    #[test]
    fn a_query_without_a_district_or_with_an_unknown_parameter_is_refused() {
        assert!(matches!(
            parse_query(Some("filter=x")),
            Err(ExportError::MissingParent)
        ));
        assert!(matches!(
            parse_query(Some("parent=districts/d&colour=red")),
            Err(ExportError::UnknownParameter(name)) if name == "colour"
        ));
        let parsed = parse_query(Some("parent=districts%2Fd&filter=status+%3D+OPEN")).unwrap();
        assert_eq!(parsed.parent, "districts/d");
        assert_eq!(parsed.filter, "status = OPEN");
    }
}
