//! CSV import of buildings, units, enterprises and tenancies (see
//! docs/import.md). Every row is parsed and checked on its own; bad rows are
//! reported with their line and column and not applied; good rows are applied
//! whole, each in a savepoint of one transaction.

use std::collections::HashMap;

use louyu_kit::audit::RequestContext;
use louyu_kit::error::InvalidArgument;
use louyu_kit::geo::Datum;
use louyu_kit::names::parse_resource_id;
use louyu_proto::registry::v1::{
    EnterpriseStatus, ImportKind, ImportRecordsResponse, ImportRowError,
};

use crate::domain::Uscc;
use crate::domain::fields;
use crate::error::RegistryError;
use crate::store::{BuildingInput, EnterpriseInput, ImportRow, Store, TenancyInput, UnitInput};

/// A column: its canonical name and the headers accepted for it.
struct Column {
    name: &'static str,
    headers: &'static [&'static str],
    required: bool,
}

const fn column(name: &'static str, headers: &'static [&'static str], required: bool) -> Column {
    Column {
        name,
        headers,
        required,
    }
}

const BUILDING_COLUMNS: &[Column] = &[
    column("building_id", &["building_id", "楼宇编号"], true),
    column("display_name", &["display_name", "楼宇名称"], true),
    column("address", &["address", "地址"], true),
    column("latitude", &["latitude", "纬度"], false),
    column("longitude", &["longitude", "经度"], false),
    column("datum", &["datum", "坐标系"], false),
    column(
        "floors_above_ground",
        &["floors_above_ground", "地上层数"],
        false,
    ),
    column(
        "floors_below_ground",
        &["floors_below_ground", "地下层数"],
        false,
    ),
    column(
        "managing_sub_district",
        &["managing_sub_district", "所属街道"],
        true,
    ),
    column("property_manager", &["property_manager", "物业公司"], false),
];

const UNIT_COLUMNS: &[Column] = &[
    column("building_id", &["building_id", "楼宇编号"], true),
    column("unit_id", &["unit_id", "单元编号"], true),
    column("display_name", &["display_name", "单元名称"], true),
    column("floor", &["floor", "楼层"], true),
    column("area_square_meters", &["area_square_meters", "面积"], true),
];

const ENTERPRISE_COLUMNS: &[Column] = &[
    column("uscc", &["uscc", "统一社会信用代码"], true),
    column("display_name", &["display_name", "企业名称"], true),
    column("industry", &["industry", "行业"], false),
    column("headcount", &["headcount", "员工人数"], false),
    column("party_members", &["party_members", "党员人数"], false),
    column(
        "registered_address",
        &["registered_address", "注册地址"],
        false,
    ),
    column("status", &["status", "状态"], false),
];

const TENANCY_COLUMNS: &[Column] = &[
    column("uscc", &["uscc", "统一社会信用代码"], true),
    column("building_id", &["building_id", "楼宇编号"], true),
    column("unit_id", &["unit_id", "单元编号"], true),
    column("area_square_meters", &["area_square_meters", "面积"], false),
    column("lease_start", &["lease_start", "租约开始"], true),
    column("lease_end", &["lease_end", "租约结束"], true),
];

/// One data row: its line and its values by canonical column, with the
/// header each came from.
struct Row<'a> {
    values: HashMap<&'static str, (String, &'a str)>,
    errors: Vec<ImportRowError>,
    line: i32,
}

impl Row<'_> {
    fn header(&self, column: &str) -> String {
        self.values
            .get(column)
            .map(|(_, header)| (*header).to_owned())
            .unwrap_or_else(|| column.to_owned())
    }

    /// The canonical names of the columns the file has.
    fn present(&self) -> Vec<&'static str> {
        let mut present: Vec<&'static str> = self.values.keys().copied().collect();
        present.sort_unstable();
        present
    }

    fn text(&self, column: &str) -> &str {
        self.values
            .get(column)
            .map(|(value, _)| value.as_str())
            .unwrap_or("")
    }

    fn fail(&mut self, column: &str, message: impl Into<String>) {
        let field = self.header(column);
        self.errors.push(ImportRowError {
            line: self.line,
            field,
            message: message.into(),
        });
    }

    /// Keeps a parsed value, or records its violations against `column`.
    fn check<T>(&mut self, column: &str, result: Result<T, InvalidArgument>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                for violation in error.violations {
                    self.fail(column, violation.description);
                }
                None
            }
        }
    }

    /// Parses the column's text, recording any violation against it.
    fn parse<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, InvalidArgument>,
    ) -> Option<T> {
        let text = self.text(column).to_owned();
        let result = parse(&text);
        self.check(column, result)
    }

    fn number<T: std::str::FromStr + Default>(&mut self, column: &str, what: &str) -> Option<T> {
        let text = self.text(column).trim().to_owned();
        if text.is_empty() {
            return Some(T::default());
        }
        match text.parse() {
            Ok(value) => Some(value),
            Err(_) => {
                self.fail(column, format!("应为{what} must be {what}"));
                None
            }
        }
    }
}

/// Finds the physical line of the file (1 for the first) on which a record
/// starts. The reader's own line count lags behind: it skips blank lines
/// without counting them before a record, and it counts a CRLF only once it
/// reads the LF, at the start of the next record. Its byte offset of a record
/// may likewise point at the line breaks before it. Records come in file
/// order, so the counter moves forward only.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text: text.as_bytes(),
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record whose reading started at byte `reading_start`:
    /// the first line at or after it that is not blank.
    fn line_at(&mut self, reading_start: u64) -> i32 {
        let mut start = usize::try_from(reading_start)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        while self.offset < start {
            match self.text[self.offset] {
                b'\n' => self.line += 1,
                // A lone CR ends a line too (old Mac files); a CR of a CRLF
                // is counted by its LF.
                b'\r' if self.text.get(self.offset + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.offset += 1;
        }
        i32::try_from(self.line).unwrap_or(i32::MAX)
    }
}

/// Imports a file; `datum` is that of the coordinates in rows that do not
/// name their own.
pub async fn import(
    store: &Store,
    context: &RequestContext,
    kind: ImportKind,
    csv: &[u8],
    validate_only: bool,
    datum: Datum,
) -> Result<ImportRecordsResponse, RegistryError> {
    let text = std::str::from_utf8(csv).map_err(|error| {
        InvalidArgument::new(
            "csv",
            format!(
                "文件不是UTF-8编码 is not UTF-8 (first bad byte at offset {})",
                error.valid_up_to()
            ),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let columns = match kind {
        ImportKind::Buildings => BUILDING_COLUMNS,
        ImportKind::Units => UNIT_COLUMNS,
        ImportKind::Enterprises => ENTERPRISE_COLUMNS,
        ImportKind::Tenancies => TENANCY_COLUMNS,
        ImportKind::Unspecified => {
            return Err(InvalidArgument::new("kind", "必须填写 is required").into());
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| InvalidArgument::new("csv", "无法读取表头 the header row cannot be read"))?
        .iter()
        .map(|header| header.trim().to_owned())
        .collect();
    // The reader skips blank lines, so a file of nothing but a byte-order
    // mark and blank lines has an empty header record.
    if headers.iter().all(String::is_empty) {
        return Err(InvalidArgument::new(
            "csv",
            "文件为空或没有表头行 the file is empty or has no header row",
        )
        .into());
    }
    let mut positions: Vec<(usize, &'static str)> = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let Some(column) = columns.iter().find(|column| {
            column
                .headers
                .iter()
                .any(|accepted| accepted.eq_ignore_ascii_case(header))
        }) else {
            let known: Vec<&str> = columns.iter().map(|column| column.name).collect();
            return Err(InvalidArgument::new(
                "csv",
                format!(
                    "未知的列“{header}” unknown column '{header}'; columns are: {}",
                    known.join(", ")
                ),
            )
            .into());
        };
        if positions.iter().any(|(_, name)| *name == column.name) {
            return Err(InvalidArgument::new(
                "csv",
                format!("列重复 column {} appears twice", column.name),
            )
            .into());
        }
        positions.push((index, column.name));
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|column| column.required && !positions.iter().any(|(_, name)| *name == column.name))
        .map(|column| column.name)
        .collect();
    if !missing.is_empty() {
        return Err(InvalidArgument::new(
            "csv",
            format!(
                "缺少必填列 missing required columns: {}",
                missing.join(", ")
            ),
        )
        .into());
    }

    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    let mut total_rows = 0;
    let mut lines = LineCounter::new(text);
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                total_rows += 1;
                let line = error
                    .position()
                    .map_or(0, |position| lines.line_at(position.byte()));
                errors.push(ImportRowError {
                    line,
                    field: String::new(),
                    message: "该行无法解析为CSV this row is not valid CSV".to_owned(),
                });
                continue;
            }
        };
        // Excel writes `,,,,` for a row whose cells were formatted but left
        // empty: like a blank line, it is not a row.
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        total_rows += 1;
        let line = record
            .position()
            .map_or(0, |position| lines.line_at(position.byte()));
        if record.len() != headers.len() {
            errors.push(ImportRowError {
                line,
                field: String::new(),
                message: format!(
                    "该行有{}列，表头有{}列 the row has {} fields, the header {}",
                    record.len(),
                    headers.len(),
                    record.len(),
                    headers.len()
                ),
            });
            continue;
        }
        let values = positions
            .iter()
            .map(|(index, name)| (*name, (record[*index].to_owned(), headers[*index].as_str())))
            .collect();
        let mut row = Row {
            values,
            errors: Vec::new(),
            line,
        };
        let import_row = match kind {
            ImportKind::Buildings => parse_building_row(store, &mut row, datum),
            ImportKind::Units => parse_unit_row(&mut row),
            ImportKind::Enterprises => parse_enterprise_row(&mut row),
            _ => parse_tenancy_row(&mut row),
        };
        match import_row {
            Some(import_row) if row.errors.is_empty() => parsed.push((line, import_row)),
            _ => errors.append(&mut row.errors),
        }
    }

    let outcomes = store.apply_import(context, parsed, validate_only).await?;
    let mut applied_rows = 0;
    for (line, outcome) in outcomes {
        match outcome {
            Ok(()) => applied_rows += 1,
            Err(problem) => errors.push(ImportRowError {
                line,
                // The store names canonical columns; report the file's own header.
                field: positions
                    .iter()
                    .find(|(_, name)| *name == problem.field)
                    .map(|(index, _)| headers[*index].clone())
                    .unwrap_or(problem.field),
                message: problem.message,
            }),
        }
    }
    errors.sort_by_key(|error| error.line);
    Ok(ImportRecordsResponse {
        total_rows,
        applied_rows,
        errors,
    })
}

fn parse_building_row(store: &Store, row: &mut Row<'_>, file_datum: Datum) -> Option<ImportRow> {
    let id = row.parse("building_id", |value| {
        parse_resource_id("building_id", value.trim())
    });
    let display_name = row.parse("display_name", |value| fields::name("display_name", value));
    let address = row.parse("address", |value| {
        fields::multiline_text("address", value, fields::MAX_TEXT_CHARS, true)
    });
    let latitude: Option<f64> = row.number("latitude", "数字 a number");
    let longitude: Option<f64> = row.number("longitude", "数字 a number");
    let has_location =
        !row.text("latitude").trim().is_empty() || !row.text("longitude").trim().is_empty();
    let datum = row.parse("datum", |value| parse_datum(value, file_datum));
    let location = match (latitude, longitude, datum) {
        (Some(latitude), Some(longitude), Some(datum)) if has_location => {
            let lat_lng = datum.lat_lng_to_wgs84(&louyu_proto::google::r#type::LatLng {
                latitude,
                longitude,
            });
            row.check("latitude", fields::location("location", Some(&lat_lng)))
        }
        (_, _, None) => None,
        _ => Some(None),
    };
    let above: Option<i32> = row.number("floors_above_ground", "整数 a whole number");
    let above = above.and_then(|value| {
        row.check(
            "floors_above_ground",
            fields::floors("floors_above_ground", value),
        )
    });
    let below: Option<i32> = row.number("floors_below_ground", "整数 a whole number");
    let below = below.and_then(|value| {
        row.check(
            "floors_below_ground",
            fields::floors("floors_below_ground", value),
        )
    });
    let sub_district = row.text("managing_sub_district").trim().to_owned();
    // A bare id (`nanjingxilu`) or a full resource name.
    let sub_district = if sub_district.contains('/') {
        row.check(
            "managing_sub_district",
            store
                .names()
                .parse_sub_district("managing_sub_district", &sub_district),
        )
    } else {
        row.check(
            "managing_sub_district",
            parse_resource_id("managing_sub_district", &sub_district),
        )
    };
    let property_manager = row.parse("property_manager", |value| {
        fields::text("property_manager", value, fields::MAX_NAME_CHARS, false)
    });
    Some(ImportRow::Building {
        present: row.present(),
        id: id?,
        input: BuildingInput {
            display_name: display_name?,
            address: address?,
            location: location?,
            floors_above_ground: above?,
            floors_below_ground: below?,
            managing_sub_district: sub_district?,
            property_manager: property_manager?,
        },
    })
}

/// A row's `datum` cell: `WGS84`, `GCJ02` or `BD09`, in any case and with
/// or without a hyphen; empty means the file's datum.
fn parse_datum(value: &str, file_datum: Datum) -> Result<Datum, InvalidArgument> {
    let normalised = value.trim().to_ascii_lowercase().replace(['-', '_'], "");
    match normalised.as_str() {
        "" => Ok(file_datum),
        "wgs84" => Ok(Datum::Wgs84),
        "gcj02" => Ok(Datum::Gcj02),
        "bd09" => Ok(Datum::Bd09),
        _ => Err(InvalidArgument::new(
            "datum",
            "应为 WGS84、GCJ02 或 BD09 must be WGS84, GCJ02 or BD09",
        )),
    }
}

fn parse_unit_row(row: &mut Row<'_>) -> Option<ImportRow> {
    let building_id = row.parse("building_id", |value| {
        parse_resource_id("building_id", value.trim())
    });
    let unit_id = row.parse("unit_id", |value| {
        parse_resource_id("unit_id", value.trim())
    });
    let display_name = row.parse("display_name", |value| fields::name("display_name", value));
    let floor: Option<i32> = row.number("floor", "整数 a whole number");
    let floor = floor.and_then(|value| row.check("floor", fields::floor("floor", value)));
    let area: Option<f64> = row.number("area_square_meters", "数字 a number");
    let area = area.and_then(|value| {
        row.check(
            "area_square_meters",
            fields::area("area_square_meters", value),
        )
    });
    Some(ImportRow::Unit {
        building_id: building_id?,
        id: unit_id?,
        input: UnitInput {
            display_name: display_name?,
            floor: floor?,
            area: area?,
        },
    })
}

fn parse_enterprise_row(row: &mut Row<'_>) -> Option<ImportRow> {
    let uscc = row.parse("uscc", |value| Uscc::parse("uscc", value));
    let display_name = row.parse("display_name", |value| fields::name("display_name", value));
    let industry = row.parse("industry", |value| {
        fields::text("industry", value, fields::MAX_NAME_CHARS, false)
    });
    let headcount: Option<i32> = row.number("headcount", "整数 a whole number");
    let headcount =
        headcount.and_then(|value| row.check("headcount", fields::count("headcount", value)));
    let party_members: Option<i32> = row.number("party_members", "整数 a whole number");
    let party_members = party_members
        .and_then(|value| row.check("party_members", fields::count("party_members", value)));
    let address = row.parse("registered_address", |value| {
        fields::multiline_text("registered_address", value, fields::MAX_TEXT_CHARS, false)
    });
    let status = match row.text("status").trim().to_ascii_lowercase().as_str() {
        "" | "active" | "在营" => Some(EnterpriseStatus::Active),
        "moved_out" | "已迁出" => Some(EnterpriseStatus::MovedOut),
        "deregistered" | "已注销" => Some(EnterpriseStatus::Deregistered),
        _ => {
            row.fail("status", "应为 active、moved_out 或 deregistered（在营、已迁出、已注销） must be active, moved_out or deregistered");
            None
        }
    };
    Some(ImportRow::Enterprise {
        present: row.present(),
        uscc: uscc?,
        input: EnterpriseInput {
            display_name: display_name?,
            industry: industry?,
            headcount: headcount?,
            party_members: party_members?,
            contacts: Vec::new(),
            status: status?,
            registered_address: address?,
        },
    })
}

fn parse_tenancy_row(row: &mut Row<'_>) -> Option<ImportRow> {
    let uscc = row.parse("uscc", |value| Uscc::parse("uscc", value));
    let building_id = row.parse("building_id", |value| {
        parse_resource_id("building_id", value.trim())
    });
    let unit_id = row.parse("unit_id", |value| {
        parse_resource_id("unit_id", value.trim())
    });
    let area: Option<f64> = row.number("area_square_meters", "数字 a number");
    let area = match area {
        Some(value) if value != 0.0 => row
            .check(
                "area_square_meters",
                fields::area("area_square_meters", value),
            )
            .map(Some),
        Some(_) => Some(None),
        None => None,
    };
    let start = row.parse("lease_start", |value| {
        fields::date_from_input("lease_start", value)
    });
    let end = row.parse("lease_end", |value| {
        fields::date_from_input("lease_end", value)
    });
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        row.fail(
            "lease_end",
            "租约结束日期不能早于开始日期 must not be before lease_start",
        );
    }
    Some(ImportRow::Tenancy(TenancyInput {
        uscc: uscc?,
        building_id: building_id?,
        unit_id: unit_id?,
        area: area?,
        lease_start: start?,
        lease_end: end?,
    }))
}
