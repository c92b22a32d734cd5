//! Paying for school-to-school support: the edge between peer review and billing.
//!
//! Peer review records the time a school gave another (a follow-up action's support request);
//! billing moves money. Neither knows the other, so the gateway joins them: it reads the
//! minutes peer review recorded and hands them to `billing::ledger::time_credits`, which pays
//! each minute once.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::ledger::Payment;
use billing::ledger::time_credits::{self, TimeCredit};
use kernel::{DomainError, ErrorCode, Money, Permission, SupportRequestId};
use peer_review::report;

use crate::graphql::billing::types::PaymentNode;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, field_error, payload, to_graphql};
use crate::graphql::relay::expect_input;

/// Input to `reviewSupportCredit`.
#[derive(InputObject, Debug)]
pub struct ReviewSupportCreditInput {
    /// The `SupportRequest` whose recorded time is paid for.
    pub support_request_id: ID,
    /// What an hour of a leader's support is worth, in pence (VAT does not apply: a credit
    /// between members, not a supply): 1 to 1,000,000,000 (1p to £10,000,000), and the
    /// credit for the time not yet credited at this rate must fit the same range.
    pub rate_pence_per_hour: i32,
}

/// What `reviewSupportCredit` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewSupportCreditPayload {
    /// The credit on the providing school's billing account (method CREDIT), which finance
    /// allocates to its invoices like any receipt.
    pub payment: Option<PaymentNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct SupportCreditMutation;

#[Object]
impl SupportCreditMutation {
    /// Credit the providing school for the support time recorded on a request since its last
    /// credit, at this rate. Finance and admins. Each minute is paid once: asking again with
    /// nothing new recorded returns the last credit, or is a CONFLICT at a different rate;
    /// time recorded after a credit is paid by the next one, at that day's rate.
    async fn review_support_credit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewSupportCreditInput,
    ) -> async_graphql::Result<ReviewSupportCreditPayload> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(Permission::ManageBilling)
            .map_err(to_graphql)?;
        let result: Result<Payment, DomainError> = async {
            let id: SupportRequestId = expect_input(&input.support_request_id, "supportRequestId")?;
            let support = report::support_request(&rc.db, &rc.actor, id)
                .await
                .map_err(|e| match e {
                    DomainError::NotFound { .. } => field_error(
                        "supportRequestId",
                        ErrorCode::NotFound,
                        "no such support request",
                    ),
                    other => other,
                })?;
            let Some(minutes) = support.minutes_provided else {
                return Err(field_error(
                    "supportRequestId",
                    ErrorCode::Conflict,
                    "the providing school has not recorded its time yet",
                ));
            };
            let credit = TimeCredit {
                source: source_of(id),
                school: support.providing_school_id,
                minutes_recorded: minutes,
                rate_per_hour: Money::from_pence(i64::from(input.rate_pence_per_hour)),
                description: "School-to-school support".to_owned(),
            };
            time_credits::credit_time(&rc.db, &rc.actor, rc.clock.as_ref(), credit)
                .await
                .map(|credited| credited.payment)
                .map_err(|e| rename_field(e, time_credits::SOURCE_FIELD, "supportRequestId"))
        }
        .await;
        let (payment, user_errors) = payload(result)?;
        Ok(ReviewSupportCreditPayload {
            payment: payment.map(PaymentNode),
            user_errors,
        })
    }
}

/// The name billing knows a support request's minutes by. Credits made before
/// `billing::ledger::time_credits` existed were carried over under the same name.
fn source_of(id: SupportRequestId) -> String {
    format!("review-support:{}", id.as_uuid())
}

/// Billing names the source of the minutes generically; callers know it as the request.
fn rename_field(error: DomainError, from: &str, to: &str) -> DomainError {
    match error {
        DomainError::Invalid(mut fields) => {
            for field in &mut fields {
                if field.field == [from] {
                    field.field = vec![to.to_owned()];
                }
            }
            DomainError::Invalid(fields)
        }
        other => other,
    }
}
