//! What the jobs do: thin calls into the domains' own idempotent services.

use billing::provider::PaymentProvider;
use kernel::{AcademicYear, Actor, Clock, DomainError};
use sea_orm::DatabaseConnection;

use super::{Extras, Job};
use crate::events::Event;

/// How long an invoicing run must have been IN_PROGRESS before the job treats it as
/// interrupted. A run finishing normally takes seconds to minutes; finance starting one by
/// hand is never raced by the job (invoices are idempotent anyway, but one actor at a time is
/// easier to reason about and to read in the audit trail).
pub const STALE_RUN: chrono::Duration = chrono::Duration::minutes(15);

pub(super) async fn run(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    extras: Extras<'_>,
    job: Job,
) -> Result<String, DomainError> {
    let provider = extras.provider;
    match job {
        Job::ReconcileStripe => {
            let Some(provider) = provider else {
                return Ok("Stripe is not configured: nothing to reconcile".to_owned());
            };
            let run = billing::reconciliation::run(db, actor, clock, provider).await?;
            Ok(format!(
                "compared {} invoice(s), {} new difference(s)",
                run.invoices_compared, run.differences_found
            ))
        }
        Job::IssueScheduledInstalments => {
            let done = billing::run::issue_due_instalments(db, clock).await?;
            let mirrored = mirror_issued(db, actor, clock, provider, &done.invoices).await;
            Ok(format!(
                "issued {} scheduled instalment(s), {} cancelled{mirrored}",
                done.issued, done.cancelled
            ))
        }
        Job::ApplyAccountMoves => {
            let done = billing::ledger::apply_due_moves(db, clock).await?;
            Ok(format!(
                "applied {} account move(s), {} failed",
                done.applied, done.failed
            ))
        }
        Job::LapseUnansweredRenewals => {
            // Renewals opened for next year are answered during this one; a first enrolment
            // pending in the current year can carry a notice date too.
            let this = AcademicYear::containing(clock.today());
            let mut lapsed = 0;
            for year in [this, this.next()] {
                lapsed += membership::memberships::lapse_unanswered(db, actor, clock, year).await?;
            }
            Ok(format!("lapsed {lapsed} unanswered renewal(s)"))
        }
        Job::ResumeInterruptedInvoicing => {
            let cutoff = clock.now() - STALE_RUN;
            let mut resumed = Vec::new();
            for run in billing::run::list(db, actor).await? {
                if run.status == billing::run::RunStatus::InProgress && run.started_at < cutoff {
                    let done = billing::run::start(db, actor, clock, run.year).await?;
                    let mirrored = mirror_year(db, actor, clock, provider, run.year).await;
                    resumed.push(format!(
                        "{}: {} created, {} already issued{mirrored}",
                        done.year, done.invoices_created, done.invoices_existing
                    ));
                }
            }
            Ok(if resumed.is_empty() {
                "no interrupted invoicing run".to_owned()
            } else {
                format!("resumed {}", resumed.join("; "))
            })
        }
        Job::IssueTermInvoices => {
            let mut issued = Vec::new();
            for (year, term) in billing::charges::terms_to_issue(db, clock.today()).await? {
                let done =
                    billing::charges::issue_term_invoices(db, actor, clock, year, term).await?;
                let ids: Vec<kernel::InvoiceId> = done.invoices.iter().map(|i| i.id).collect();
                let mirrored = mirror_issued(db, actor, clock, provider, &ids).await;
                issued.push(format!(
                    "{year} {term:?}: {} invoice(s) for {} charge(s){mirrored}",
                    done.invoices.len(),
                    done.charges_invoiced
                ));
            }
            Ok(if issued.is_empty() {
                "no ended term with pending charges".to_owned()
            } else {
                format!("issued {}", issued.join("; "))
            })
        }
        Job::ExpireWaitlistOffers => {
            let changes = traded::expire_waitlist_offers(db, clock).await?;
            let expired = changes.len();
            let offered: usize = changes.iter().map(|c| c.offered.len()).sum();
            let mut touched = Vec::new();
            for change in changes {
                touched.push(change.booking);
                touched.extend(change.offered);
            }
            announce(extras, &touched).await;
            Ok(format!(
                "{expired} offer(s) expired, {offered} entr(ies) offered the places"
            ))
        }
        Job::ReleaseUnpaidBookings => {
            let hold = chrono::Duration::from_std(extras.card_booking_hold)
                .map_err(DomainError::internal)?;
            // Without Stripe, card bookings were taken offline: nothing to call off there.
            let offline = billing::provider::OfflineProvider;
            let provider = provider.unwrap_or(&offline);
            let changed = traded::release_unpaid_bookings(db, clock, provider, hold).await?;
            let released = changed
                .iter()
                .filter(|b| b.status == traded::BookingStatus::Cancelled)
                .count();
            announce(extras, &changed).await;
            Ok(format!(
                "released {released} unpaid booking(s); {} booking(s) changed",
                changed.len()
            ))
        }
        Job::CompleteCardRefunds => {
            // Without Stripe, card bookings were taken offline and are refunded the same way.
            let offline = billing::provider::OfflineProvider;
            let refunded =
                traded::complete_card_refunds(db, clock, provider.unwrap_or(&offline)).await?;
            announce(extras, &refunded).await;
            Ok(format!("completed {} card refund(s)", refunded.len()))
        }
    }
}

/// Mirrors at the payment provider the invoices a job issued, as the mutations that issue
/// invoices do, so that each gets its hosted page (and its email the link, which waits for it).
/// The invoices have committed: a provider failure is logged and counted, and `invoiceMirror`
/// retries it. Answers what to add to the job's summary; nothing without a provider.
async fn mirror_issued(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    invoices: &[kernel::InvoiceId],
) -> String {
    let Some(provider) = provider else {
        return String::new();
    };
    let (mut mirrored, mut failed) = (0, 0);
    for &id in invoices {
        match billing::mirror::mirror_invoice(db, actor, clock, provider, id).await {
            Ok(_) => mirrored += 1,
            Err(err) => {
                failed += 1;
                tracing::warn!(invoice = %id, error = %err.chain(), "mirroring an invoice to the payment provider failed");
            }
        }
    }
    mirrored_summary(provider, mirrored, failed)
}

/// [`mirror_issued`] for an academic year whose invoicing run a job finished.
async fn mirror_year(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    year: AcademicYear,
) -> String {
    let Some(provider) = provider else {
        return String::new();
    };
    match billing::mirror::mirror_year(db, actor, clock, provider, year).await {
        Ok(done) => {
            for (id, why) in &done.failed {
                tracing::warn!(invoice = %id, error = %why, "mirroring an invoice to the payment provider failed");
            }
            mirrored_summary(provider, done.mirrored, done.failed.len())
        }
        Err(err) => {
            tracing::warn!(%year, error = %err.chain(), "mirroring a year's invoices to the payment provider failed");
            format!(", not mirrored to {}: {}", provider.name(), err.chain())
        }
    }
}

fn mirrored_summary(provider: &dyn PaymentProvider, mirrored: u32, failed: usize) -> String {
    if failed == 0 {
        format!(", {mirrored} mirrored to {}", provider.name())
    } else {
        format!(
            ", {mirrored} mirrored to {}, {failed} failed (retry with invoiceMirror)",
            provider.name()
        )
    }
}

/// Tells each school's `bookingUpdated` subscribers of the bookings a sweep changed. The
/// sweep has committed: a lost event costs a portal a live update, never a booking.
async fn announce(extras: Extras<'_>, changed: &[traded::Booking]) {
    let Some(bus) = extras.events else {
        return;
    };
    for booking in changed {
        bus.publish(Event::BookingUpdated {
            booking: booking.id,
            school: booking.school_id,
        })
        .await;
    }
}
