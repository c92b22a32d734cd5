//! Reports as files, for the people who run and attend traded services: the delegate list
//! and sign-in sheets of a session ([`delegates`]), a person's CPD record ([`cpd`]) and a
//! service's feedback summary for a term ([`feedback`]).
//!
//! Each report is read with the caller's [`kernel::Actor`] and checked here, like every other
//! read of this crate — who may see it is part of what the report is — and returns plain data
//! that knows how to become a CSV table and a PDF ([`documents`]). A caller who may not see a
//! report gets `NotFound`, as for an id that does not exist.

pub mod cpd;
pub mod delegates;
pub mod feedback;

use crate::types::{Attendance, BookingStatus, Category};

/// How a category is named on paper.
pub(crate) fn category_label(category: Category) -> &'static str {
    match category {
        Category::CpdCourse => "CPD course",
        Category::Conference => "Conference",
        Category::Consultancy => "Consultancy",
        Category::Audit => "Audit",
        Category::GovernorTraining => "Governor training",
        Category::Clerking => "Clerking",
        Category::EctInduction => "ECT induction",
        Category::Hr => "HR",
        Category::Other => "Other",
    }
}

/// How a booking's state is named on paper.
pub(crate) fn status_label(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::PendingApproval => "Awaiting approval",
        BookingStatus::PendingPayment => "Awaiting payment",
        BookingStatus::Confirmed => "Confirmed",
        BookingStatus::Waitlisted => "Waiting list",
        BookingStatus::Cancelled => "Cancelled",
        BookingStatus::Attended => "Attended",
        BookingStatus::NoShow => "Did not attend",
    }
}

/// A register mark on paper; blank until marked.
pub(crate) fn mark_label(mark: Option<Attendance>) -> &'static str {
    match mark {
        Some(Attendance::Attended) => "Present",
        Some(Attendance::NoShow) => "Absent",
        None => "",
    }
}
