//! Updates with a field mask (AIP-134): which fields a patch changes, and
//! copying them onto the resource as it is when the store locks it.

use louyu_kit::error::InvalidArgument;

use crate::domain::fields;

/// Fields no update may name.
pub(super) const IMMUTABLE: &[&str] = &["name", "create_time", "update_time"];

/// The mutable fields of a resource type: their names, whether a patch
/// populates one (for an update without a mask), and the merge that copies
/// the named ones from a patch. Built by [`mutable_fields!`].
pub(super) struct MutableFields<T> {
    pub names: &'static [&'static str],
    pub populated: fn(&T, &str) -> bool,
    pub merge: fn(&mut T, &T, &[String]),
}

/// The [`MutableFields`] of a resource type, from the list of its fields.
macro_rules! mutable_fields {
    ($resource:ty; $($field:ident),* $(,)?) => {
        $crate::api::update::MutableFields::<$resource> {
            names: &[$(stringify!($field)),*],
            populated: |patch, path| match path {
                $(stringify!($field) => $crate::api::update::populated(&patch.$field),)*
                _ => false,
            },
            merge: |current, patch, paths| {
                for path in paths {
                    match path.as_str() {
                        $(stringify!($field) => current.$field = patch.$field.clone(),)*
                        _ => unreachable!("update paths are checked against the same list"),
                    }
                }
            },
        }
    };
}
pub(super) use mutable_fields;

pub(super) fn populated<T: Default + PartialEq>(value: &T) -> bool {
    *value != T::default()
}

/// An update's patch and the field paths it applies.
pub(super) struct Update<T> {
    patch: T,
    pub paths: Vec<String>,
    merge: fn(&mut T, &T, &[String]),
}

impl<T: Clone> Update<T> {
    pub fn parse(
        mask: Option<&prost_types::FieldMask>,
        mutable: MutableFields<T>,
        immutable: &[&str],
        patch: &T,
    ) -> Result<Self, InvalidArgument> {
        let paths = fields::update_paths(mask, mutable.names, immutable, |path| {
            (mutable.populated)(patch, path)
        })?;
        Ok(Self {
            patch: patch.clone(),
            paths,
            merge: mutable.merge,
        })
    }

    pub fn changes(&self, path: &str) -> bool {
        self.paths.iter().any(|changed| changed == path)
    }

    /// Copies the patched fields onto `current`.
    pub fn apply(&self, current: &mut T) {
        (self.merge)(current, &self.patch, &self.paths);
    }
}
