//! Resource names (AIP-122): `districts/jingan/buildings/b-0042`, built and
//! parsed into typed ids in one place for every service.

use crate::error::InvalidArgument;
use crate::uscc::Uscc;

/// The longest resource id segment accepted.
pub const MAX_ID_LENGTH: usize = 63;

/// Checks a resource id segment chosen by a caller: 1 to 63 of lower-case
/// ASCII letters, digits and `-`, starting with a letter or digit.
pub fn parse_resource_id(field: &str, value: &str) -> Result<String, InvalidArgument> {
    let valid_characters = value
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    let starts_well = value
        .bytes()
        .next()
        .is_some_and(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit());
    if value.is_empty() || value.len() > MAX_ID_LENGTH || !valid_characters || !starts_well {
        let lowered = value.to_ascii_lowercase();
        if lowered != value && parse_resource_id(field, &lowered).is_ok() {
            // Upper case is the one mistake with an obvious fix: name it.
            return Err(InvalidArgument::new(
                field,
                format!(
                    "标识须为小写，应写作“{lowered}” must be lower case: write '{lowered}' (1 to 63 lower-case letters, digits or '-')"
                ),
            ));
        }
        return Err(InvalidArgument::new(
            field,
            "标识须为1至63位小写字母、数字或连字符 must be 1 to 63 lower-case letters, digits or '-', starting with a letter or digit",
        ));
    }
    Ok(value.to_owned())
}

/// Splits `name` into the ids of the given collections, e.g.
/// `parse_name("name", "districts/jingan/buildings/b-1", &["districts", "buildings"])`
/// gives `["jingan", "b-1"]`. Ids are checked only for being non-empty and
/// free of `/`; each caller parses them into its own types.
pub fn parse_name<'a>(
    field: &str,
    name: &'a str,
    collections: &[&str],
) -> Result<Vec<&'a str>, InvalidArgument> {
    let segments: Vec<&str> = name.split('/').collect();
    let shape_matches = segments.len() == collections.len() * 2
        && collections.iter().enumerate().all(|(index, collection)| {
            segments[index * 2] == *collection && !segments[index * 2 + 1].is_empty()
        });
    if !shape_matches {
        let pattern = collections
            .iter()
            .map(|collection| format!("{collection}/{{id}}"))
            .collect::<Vec<_>>()
            .join("/");
        return Err(InvalidArgument::new(
            field,
            format!("资源名格式应为 {pattern} must be a resource name of the form {pattern}"),
        ));
    }
    Ok(segments.iter().skip(1).step_by(2).copied().collect())
}

/// The id that ends a resource name: `b-1` of `districts/jingan/buildings/b-1`.
pub fn last_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or_default()
}

/// Builds and parses the resource names of the one district a deployment
/// serves; a name of another district is rejected, not looked up. The
/// registry's resources, which other services name too, have typed methods;
/// a service's own collections use [`DistrictNames::name`] and
/// [`DistrictNames::parse`].
#[derive(Debug, Clone)]
pub struct DistrictNames {
    district: String,
}

impl DistrictNames {
    pub fn new(district: &str) -> Self {
        Self {
            district: district.to_owned(),
        }
    }

    /// `districts/{district}`.
    pub fn district(&self) -> String {
        format!("districts/{}", self.district)
    }

    /// `districts/{district}/{collection}/{id}`.
    pub fn name(&self, collection: &str, id: &str) -> String {
        format!("districts/{}/{collection}/{id}", self.district)
    }

    fn check_district(&self, field: &str, district: &str) -> Result<(), InvalidArgument> {
        if district == self.district {
            Ok(())
        } else {
            Err(InvalidArgument::new(
                field,
                format!(
                    "本部署只服务 districts/{0} this deployment serves districts/{0} only",
                    self.district
                ),
            ))
        }
    }

    /// Checks a name that must be the district itself.
    pub fn parse_district(&self, field: &str, name: &str) -> Result<(), InvalidArgument> {
        let ids = parse_name(field, name, &["districts"])?;
        self.check_district(field, ids[0])
    }

    /// The id of `districts/{district}/{collection}/{id}`.
    pub fn parse(
        &self,
        field: &str,
        name: &str,
        collection: &str,
    ) -> Result<String, InvalidArgument> {
        let ids = parse_name(field, name, &["districts", collection])?;
        self.check_district(field, ids[0])?;
        Ok(ids[1].to_owned())
    }

    /// A name nested one level below a district collection:
    /// `(parent_id, child_id)`.
    pub fn parse_nested(
        &self,
        field: &str,
        name: &str,
        collection: &str,
        child_collection: &str,
    ) -> Result<(String, String), InvalidArgument> {
        let ids = parse_name(field, name, &["districts", collection, child_collection])?;
        self.check_district(field, ids[0])?;
        Ok((ids[1].to_owned(), ids[2].to_owned()))
    }

    pub fn sub_district(&self, id: &str) -> String {
        self.name("subDistricts", id)
    }

    pub fn building(&self, id: &str) -> String {
        self.name("buildings", id)
    }

    pub fn unit(&self, building_id: &str, unit_id: &str) -> String {
        format!("{}/units/{unit_id}", self.building(building_id))
    }

    pub fn enterprise(&self, uscc: &str) -> String {
        self.name("enterprises", uscc)
    }

    pub fn tenancy(&self, id: &str) -> String {
        self.name("tenancies", id)
    }

    pub fn staff(&self, id: &str) -> String {
        self.name("staff", id)
    }

    pub fn assignment(&self, staff_id: &str, id: &str) -> String {
        format!("{}/assignments/{id}", self.staff(staff_id))
    }

    pub fn department(&self, id: &str) -> String {
        self.name("departments", id)
    }

    pub fn resource(&self, id: &str) -> String {
        self.name("resources", id)
    }

    pub fn offering(&self, resource_id: &str, id: &str) -> String {
        format!("{}/offerings/{id}", self.resource(resource_id))
    }

    pub fn parse_sub_district(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "subDistricts")
    }

    pub fn parse_building(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "buildings")
    }

    pub fn parse_tenancy(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "tenancies")
    }

    pub fn parse_staff(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "staff")
    }

    pub fn parse_department(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "departments")
    }

    pub fn parse_resource(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse(field, name, "resources")
    }

    /// The enterprise's code, checked like any code a caller sends.
    pub fn parse_enterprise(&self, field: &str, name: &str) -> Result<Uscc, InvalidArgument> {
        let uscc = self.parse(field, name, "enterprises")?;
        Uscc::parse(field, &uscc)
    }

    /// `(building_id, unit_id)`.
    pub fn parse_unit(&self, field: &str, name: &str) -> Result<(String, String), InvalidArgument> {
        self.parse_nested(field, name, "buildings", "units")
    }

    /// `(staff_id, assignment_id)`.
    pub fn parse_assignment(
        &self,
        field: &str,
        name: &str,
    ) -> Result<(String, String), InvalidArgument> {
        self.parse_nested(field, name, "staff", "assignments")
    }

    /// `(resource_id, offering_id)`.
    pub fn parse_offering(
        &self,
        field: &str,
        name: &str,
    ) -> Result<(String, String), InvalidArgument> {
        self.parse_nested(field, name, "resources", "offerings")
    }
}

/// The id a caller chose for a new resource, checked, or a generated one
/// when the caller left it empty.
pub fn chosen_or_generated_id(
    field: &str,
    chosen: &str,
    prefix: &str,
) -> Result<String, InvalidArgument> {
    if chosen.is_empty() {
        Ok(generate_id(prefix))
    } else {
        parse_resource_id(field, chosen)
    }
}

/// A short random id for resources whose caller did not choose one, with a
/// prefix saying what it names: `b-3f9c2a7d1e04`.
pub fn generate_id(prefix: &str) -> String {
    let random: u64 = rand::random();
    format!("{prefix}-{:012x}", random & 0xffff_ffff_ffff)
}

/// A random id that sorts by creation time: the microsecond clock in hex,
/// then random digits, e.g. `v-0644f3a1b2c3d-7e21`. Lists ordered by id are
/// then ordered by age.
pub fn generate_time_ordered_id(prefix: &str) -> String {
    let random: u16 = rand::random();
    format!("{prefix}-{:013x}-{random:04x}", crate::time::now_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_name_returns_the_ids_of_each_collection() {
        let ids = parse_name(
            "name",
            "districts/jingan/buildings/b-1",
            &["districts", "buildings"],
        )
        .unwrap();
        assert_eq!(ids, vec!["jingan", "b-1"]);
    }

    #[test]
    fn parse_name_rejects_other_shapes_naming_the_field() {
        for name in [
            "",
            "districts/jingan",
            "districts//buildings/b",
            "districts/jingan/units/b",
            "districts/jingan/buildings/b/x",
        ] {
            let error = parse_name("building", name, &["districts", "buildings"]).unwrap_err();
            assert_eq!(error.violations[0].field, "building", "{name}");
        }
    }

    #[test]
    fn names_round_trip() {
        let names = DistrictNames::new("jingan");
        assert_eq!(
            names.parse_building("b", &names.building("b-1")).unwrap(),
            "b-1"
        );
        assert_eq!(
            names.parse_unit("u", &names.unit("b-1", "1203")).unwrap(),
            ("b-1".to_owned(), "1203".to_owned())
        );
        assert_eq!(
            names
                .parse_offering("o", &names.offering("r-1", "tax-machine"))
                .unwrap(),
            ("r-1".to_owned(), "tax-machine".to_owned())
        );
        assert_eq!(
            names.offering("r-1", "o-1"),
            "districts/jingan/resources/r-1/offerings/o-1"
        );
        let uscc = names
            .parse_enterprise("e", "districts/jingan/enterprises/91440300708461136t")
            .unwrap();
        assert_eq!(uscc.as_str(), "91440300708461136T");
    }

    #[test]
    fn names_of_another_district_are_rejected() {
        let names = DistrictNames::new("jingan");
        let error = names
            .parse_building("building", "districts/xuhui/buildings/b-1")
            .unwrap_err();
        assert_eq!(error.violations[0].field, "building");
        assert!(
            names
                .parse_unit("unit", "districts/xuhui/buildings/b-1/units/1")
                .is_err()
        );
        assert!(names.parse_district("parent", "districts/xuhui").is_err());
        assert!(names.parse_district("parent", "districts/jingan").is_ok());
    }

    #[test]
    fn resource_ids_are_lower_case_letters_digits_and_dashes() {
        assert!(parse_resource_id("id", "b-0042").is_ok());
        for bad in ["", "-b", "B1", "b_1", "楼", &"a".repeat(64)] {
            assert!(parse_resource_id("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_upper_case_id_is_told_its_lower_case_form() {
        let error = parse_resource_id("unit_id", "B1-01").unwrap_err();
        assert_eq!(error.violations[0].field, "unit_id");
        assert!(
            error.violations[0].description.contains("'b1-01'"),
            "{error}"
        );
    }

    #[test]
    fn time_ordered_ids_sort_by_creation() {
        let first = generate_time_ordered_id("v");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = generate_time_ordered_id("v");
        assert!(first < second, "{first} {second}");
        assert!(parse_resource_id("id", &first).is_ok());
    }

    #[test]
    fn generated_ids_are_valid_resource_ids() {
        let id = generate_id("b");
        assert!(parse_resource_id("id", &id).is_ok(), "{id}");
        assert_ne!(generate_id("b"), generate_id("b"));
    }
}
