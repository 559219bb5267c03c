//! The registry's resource names. The deployment serves one district, so a
//! name of another district is rejected rather than looked up.

use louyu_kit::error::InvalidArgument;
use louyu_kit::names::{DistrictNames, parse_name};

use super::Uscc;

/// Builds and parses the registry's resource names.
#[derive(Debug, Clone)]
pub struct Names {
    names: DistrictNames,
}

impl Names {
    pub fn new(district: &str) -> Self {
        Self {
            names: DistrictNames::new(district),
        }
    }

    pub fn district(&self) -> String {
        self.names.district()
    }

    pub fn sub_district(&self, id: &str) -> String {
        self.names.name("subDistricts", id)
    }

    pub fn building(&self, id: &str) -> String {
        self.names.name("buildings", id)
    }

    pub fn unit(&self, building_id: &str, unit_id: &str) -> String {
        format!("{}/units/{unit_id}", self.building(building_id))
    }

    pub fn enterprise(&self, uscc: &str) -> String {
        self.names.name("enterprises", uscc)
    }

    pub fn tenancy(&self, id: &str) -> String {
        self.names.name("tenancies", id)
    }

    pub fn staff(&self, id: &str) -> String {
        self.names.name("staff", id)
    }

    pub fn assignment(&self, staff_id: &str, id: &str) -> String {
        format!("{}/assignments/{id}", self.staff(staff_id))
    }

    pub fn department(&self, id: &str) -> String {
        self.names.name("departments", id)
    }

    pub fn resource(&self, id: &str) -> String {
        self.names.name("resources", id)
    }

    /// Checks a `parent` that must be the district itself.
    pub fn parse_district(&self, field: &str, name: &str) -> Result<(), InvalidArgument> {
        self.names.parse_district(field, name)
    }

    fn parse_child(
        &self,
        field: &str,
        name: &str,
        collection: &str,
    ) -> Result<String, InvalidArgument> {
        self.names.parse(field, name, collection)
    }

    /// A name nested one level below a district collection:
    /// `(parent_id, child_id)`.
    fn parse_grandchild(
        &self,
        field: &str,
        name: &str,
        collection: &str,
        child_collection: &str,
    ) -> Result<(String, String), InvalidArgument> {
        let ids = parse_name(field, name, &["districts", collection, child_collection])?;
        self.names
            .parse_district(field, &format!("districts/{}", ids[0]))?;
        Ok((ids[1].to_owned(), ids[2].to_owned()))
    }

    pub fn parse_sub_district(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse_child(field, name, "subDistricts")
    }

    pub fn parse_building(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse_child(field, name, "buildings")
    }

    pub fn parse_tenancy(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse_child(field, name, "tenancies")
    }

    pub fn parse_staff(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse_child(field, name, "staff")
    }

    pub fn parse_department(&self, field: &str, name: &str) -> Result<String, InvalidArgument> {
        self.parse_child(field, name, "departments")
    }

    pub fn parse_enterprise(&self, field: &str, name: &str) -> Result<Uscc, InvalidArgument> {
        let uscc = self.parse_child(field, name, "enterprises")?;
        Uscc::parse(field, &uscc)
    }

    /// `(building_id, unit_id)`.
    pub fn parse_unit(&self, field: &str, name: &str) -> Result<(String, String), InvalidArgument> {
        self.parse_grandchild(field, name, "buildings", "units")
    }

    /// `(staff_id, assignment_id)`.
    pub fn parse_assignment(
        &self,
        field: &str,
        name: &str,
    ) -> Result<(String, String), InvalidArgument> {
        self.parse_grandchild(field, name, "staff", "assignments")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let names = Names::new("jingan");
        assert_eq!(
            names.parse_building("b", &names.building("b-1")).unwrap(),
            "b-1"
        );
        assert_eq!(
            names.parse_unit("u", &names.unit("b-1", "1203")).unwrap(),
            ("b-1".to_owned(), "1203".to_owned())
        );
        let uscc = names
            .parse_enterprise("e", "districts/jingan/enterprises/91440300708461136t")
            .unwrap();
        assert_eq!(uscc.as_str(), "91440300708461136T");
    }

    #[test]
    fn names_of_another_district_are_rejected() {
        let names = Names::new("jingan");
        let error = names
            .parse_building("building", "districts/xuhui/buildings/b-1")
            .unwrap_err();
        assert_eq!(error.violations[0].field, "building");
        assert!(names.parse_district("parent", "districts/xuhui").is_err());
        assert!(names.parse_district("parent", "districts/jingan").is_ok());
    }
}
