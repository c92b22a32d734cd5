//! What the jobs do: thin calls into the domains' own idempotent services.

use billing::provider::PaymentProvider;
use kernel::{AcademicYear, Actor, Clock, DomainError};
use sea_orm::DatabaseConnection;

use super::Job;

/// How long an invoicing run must have been IN_PROGRESS before the job treats it as
/// interrupted. A run finishing normally takes seconds to minutes; finance starting one by
/// hand is never raced by the job (invoices are idempotent anyway, but one actor at a time is
/// easier to reason about and to read in the audit trail).
pub const STALE_RUN: chrono::Duration = chrono::Duration::minutes(15);

pub(super) async fn run(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    job: Job,
) -> Result<String, DomainError> {
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
                    resumed.push(format!(
                        "{}: {} created, {} already issued",
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
                issued.push(format!(
                    "{year} {term:?}: {} invoice(s) for {} charge(s)",
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
    }
}
