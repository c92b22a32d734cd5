//! Schools in the directory.

pub(crate) mod entity;
mod service;

/// The value types live with the register's file readers, in a crate the fuzz targets can build.
pub use school_register::{inspection, types};

pub use service::{
    CorruptRow, NewSchool, RecordedRoll, RollInput, School, SchoolChanges, SchoolFilter, by_ids,
    by_urn, count, create, designations_of, inspections_of, is_empty, joined_columns,
    joined_school, list, names_by_ids, record_inspection, roll_history_of, update,
};
pub(crate) use service::{record_rolls, roll_columns};
