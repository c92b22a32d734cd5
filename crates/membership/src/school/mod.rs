//! Schools in the directory.

pub(crate) mod entity;
pub mod inspection;
mod service;
pub mod types;

pub use service::{
    CorruptRow, NewSchool, RecordedRoll, RollInput, School, SchoolChanges, SchoolFilter, by_ids,
    by_urn, count, create, designations_of, inspections_of, is_empty, list, names_by_ids,
    record_inspection, roll_history_of, update,
};
pub(crate) use service::{record_rolls, roll_columns};
