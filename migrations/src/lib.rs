//! Every table of every Trellis domain, as forward-only migrations.
//!
//! One migration per change, never edited once released: a deployed database is the sum of
//! the migrations applied to it. Both backends run the same migrations; where SQL differs
//! (partial indexes are the same on both, as it happens) the migration says so.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_directory;
mod m20261123_000002_access;
mod m20261124_000003_memberships;
mod m20261124_000004_fee_schedules;
mod m20261124_000005_billing;
mod m20261124_000006_invoicing_runs;
mod m20261125_000007_offer;
mod m20261125_000008_peer_review;
mod m20261125_000009_job_runs;
mod m20261125_000010_stripe;
mod m20261126_000011_traded;
mod m20261126_000012_charges;
mod m20261126_000013_stripe_payments;
mod m20261127_000014_booking_payment_ref;
mod m20261204_000015_stripe_pending_refunds;
mod m20261204_000016_idempotency_caller;
mod m20261204_000020_notifications;
mod m20261204_000030_booking_cancellation_units;
mod m20261204_000035_outbox_event_retries;
mod m20261204_000040_school_status_and_rolls;
mod m20261204_000050_time_credits;
mod m20261204_000090_attendance_parts;
mod m20261204_000100_school_opened_on;
mod m20261204_000110_attendee_email_index;
mod m20261204_000120_notification_attachments;
mod m20261205_000130_billing_account_moves;
mod m20261205_000150_scheduled_instalments;
mod m20261205_000160_bank_statements;
mod m20261205_000170_invoice_collection;
mod m20261206_000180_invoice_drafts;
mod m20261206_000190_sign_in_changes;
mod status;

pub use status::{MigrationStatus, status};

/// The migrator every binary and test uses.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_directory::Migration),
            Box::new(m20261123_000002_access::Migration),
            Box::new(m20261124_000003_memberships::Migration),
            Box::new(m20261124_000004_fee_schedules::Migration),
            Box::new(m20261124_000005_billing::Migration),
            Box::new(m20261124_000006_invoicing_runs::Migration),
            Box::new(m20261125_000007_offer::Migration),
            Box::new(m20261125_000008_peer_review::Migration),
            Box::new(m20261125_000009_job_runs::Migration),
            Box::new(m20261125_000010_stripe::Migration),
            Box::new(m20261126_000011_traded::Migration),
            Box::new(m20261126_000012_charges::Migration),
            Box::new(m20261126_000013_stripe_payments::Migration),
            Box::new(m20261127_000014_booking_payment_ref::Migration),
            Box::new(m20261204_000015_stripe_pending_refunds::Migration),
            Box::new(m20261204_000016_idempotency_caller::Migration),
            Box::new(m20261204_000020_notifications::Migration),
            Box::new(m20261204_000030_booking_cancellation_units::Migration),
            Box::new(m20261204_000035_outbox_event_retries::Migration),
            Box::new(m20261204_000040_school_status_and_rolls::Migration),
            Box::new(m20261204_000050_time_credits::Migration),
            Box::new(m20261204_000090_attendance_parts::Migration),
            Box::new(m20261204_000100_school_opened_on::Migration),
            Box::new(m20261204_000110_attendee_email_index::Migration),
            Box::new(m20261204_000120_notification_attachments::Migration),
            Box::new(m20261205_000130_billing_account_moves::Migration),
            Box::new(m20261205_000150_scheduled_instalments::Migration),
            Box::new(m20261205_000160_bank_statements::Migration),
            Box::new(m20261205_000170_invoice_collection::Migration),
            Box::new(m20261206_000180_invoice_drafts::Migration),
            Box::new(m20261206_000190_sign_in_changes::Migration),
        ]
    }
}
