//! Masking contact details, which are personal data: what auditors and
//! systems see instead of a contact's name, phone and e-mail. The title is
//! not personal and stays.

use louyu_proto::registry::v1::{Building, Contact, Enterprise};

/// `张三丰` → `张**`, `13812345678` → `138****5678`, `li@x.cn` → `l***@x.cn`.
pub fn mask(contact: &mut Contact) {
    contact.person_name = mask_name(&contact.person_name);
    contact.phone = mask_phone(&contact.phone);
    contact.email = mask_email(&contact.email);
}

/// Masks every contact of an enterprise.
pub fn mask_enterprise(enterprise: &mut Enterprise) {
    enterprise.contacts.iter_mut().for_each(mask);
}

/// Masks the council members and the chief of a building.
// The deprecated copies of the council and chief are still filled
// (and masked) until their removal.
#[allow(deprecated)]
pub fn mask_building(building: &mut Building) {
    for member in &mut building.council_members {
        if let Some(contact) = &mut member.contact {
            mask(contact);
        }
    }
    if let Some(chief) = &mut building.building_chief {
        mask(chief);
    }
}

/// Whether an enterprise shows any contact detail.
pub fn enterprise_has_contacts(enterprise: &Enterprise) -> bool {
    !enterprise.contacts.is_empty()
}

/// Whether a building shows any contact detail.
// The deprecated copies of the council and chief are still filled
// (and masked) until their removal.
#[allow(deprecated)]
pub fn building_has_contacts(building: &Building) -> bool {
    !building.council_members.is_empty() || building.building_chief.is_some()
}

fn mask_name(name: &str) -> String {
    let mut characters = name.chars();
    match characters.next() {
        None => String::new(),
        Some(first) => {
            let hidden = characters.count().max(1);
            format!("{first}{}", "*".repeat(hidden))
        }
    }
}

fn mask_phone(phone: &str) -> String {
    let characters: Vec<char> = phone.chars().collect();
    if characters.len() < 7 {
        return "*".repeat(characters.len());
    }
    let head: String = characters[..3].iter().collect();
    let tail: String = characters[characters.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(characters.len() - 7))
}

fn mask_email(email: &str) -> String {
    if email.is_empty() {
        return String::new();
    }
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_phones_and_emails_are_masked_and_titles_kept() {
        let mut contact = Contact {
            person_name: "张三丰".into(),
            title: "行政经理".into(),
            phone: "13812345678".into(),
            email: "zhang@example.cn".into(),
        };
        mask(&mut contact);
        assert_eq!(contact.person_name, "张**");
        assert_eq!(contact.title, "行政经理");
        assert_eq!(contact.phone, "138****5678");
        assert_eq!(contact.email, "z***@example.cn");
    }

    #[test]
    fn short_and_odd_values_reveal_nothing_more() {
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_phone("110"), "***");
        assert_eq!(mask_phone("021-62881234"), "021*****1234");
        assert_eq!(mask_email("no-at-sign"), "***");
        assert_eq!(mask_email(""), "");
    }
}
