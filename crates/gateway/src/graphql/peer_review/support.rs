//! Paying for school-to-school support: the edge between peer review and billing.
//!
//! Peer review records the time a school gave another (a follow-up action's support request);
//! billing moves money. Neither knows the other, so the gateway joins them: finance credits
//! the providing school's billing account for the hours at a rate, once per request.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::ledger::{self, NewPayment, Payment, ReceiptMethod, accounts};
use kernel::{DomainError, ErrorCode, FieldError, Money, Permission, SupportRequestId};
use peer_review::report;

use crate::graphql::billing::types::PaymentNode;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, field_error, payload, to_graphql};
use crate::graphql::relay::expect_input;

#[derive(InputObject, Debug)]
pub struct ReviewSupportCreditInput {
    /// The `SupportRequest` whose recorded time is paid for.
    pub support_request_id: ID,
    /// What an hour of a leader's support is worth, in pence (VAT does not apply: a credit
    /// between members, not a supply): 1 to 1,000,000,000 (1p to £10,000,000), and the
    /// credit for the recorded time at this rate must fit the same range.
    pub rate_pence_per_hour: i32,
}

#[derive(SimpleObject, Debug)]
pub struct ReviewSupportCreditPayload {
    /// The credit on the providing school's billing account (method CREDIT), which finance
    /// allocates to its invoices like any receipt.
    pub payment: Option<PaymentNode>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct SupportCreditMutation;

#[Object]
impl SupportCreditMutation {
    /// Credit the providing school for the support time recorded on a request. Finance and
    /// admins. Once per request: asking again returns the same credit; asking again at a
    /// different rate is a CONFLICT.
    async fn review_support_credit(
        &self,
        ctx: &Context<'_>,
        input: ReviewSupportCreditInput,
    ) -> async_graphql::Result<ReviewSupportCreditPayload> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(Permission::ManageBilling)
            .map_err(to_graphql)?;
        let result: Result<Payment, DomainError> = async {
            let id: SupportRequestId = expect_input(&input.support_request_id, "supportRequestId")?;
            let rate = Money::bounded_input(
                "ratePencePerHour",
                Money::from_pence(i64::from(input.rate_pence_per_hour)),
            )
            .map_err(|e| DomainError::Invalid(vec![e]))?;
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
            let school = support.providing_school_id;
            let Some(account) = accounts::accounts_of_schools(&rc.db, &[school])
                .await?
                .remove(&school)
            else {
                return Err(field_error(
                    "supportRequestId",
                    ErrorCode::NotFound,
                    "the providing school has no billing account to credit",
                ));
            };
            // Pence for the minutes at the hourly rate, half a penny rounded up; checked, and
            // the credit itself within the bound on any receipt.
            let pence = i64::from(minutes)
                .checked_mul(rate.pence())
                .and_then(|p| p.checked_add(30))
                .map(|p| p / 60);
            let amount = pence
                .map(Money::from_pence)
                .and_then(|m| Money::bounded_input("ratePencePerHour", m).ok())
                .ok_or_else(|| {
                    field_error(
                        "ratePencePerHour",
                        ErrorCode::OutOfRange,
                        &format!(
                            "{minutes} minutes at this rate must come to {} to {}",
                            Money::from_pence(kernel::money::MIN_INPUT_PENCE),
                            Money::from_pence(kernel::money::MAX_INPUT_PENCE)
                        ),
                    )
                })?;
            let hours = f64::from(minutes) / 60.0;
            let new = NewPayment {
                account_id: account.id,
                method: ReceiptMethod::Credit,
                reference: format!("School-to-school support: {hours:.2} h at {rate} an hour"),
                received_on: rc.clock.today(),
                amount,
                provider_payment_ref: None,
                idempotency_key: Some(format!("review-support:{}", id.as_uuid())),
            };
            // The key is derived from the request's id, not chosen by the caller: shared by
            // every caller, so a second finance user asking again gets the same credit.
            ledger::record_payment_once(&rc.db, &rc.actor, rc.clock.as_ref(), new)
                .await
                .map_err(|e| match e {
                    // The key is ours, not the caller's: a second credit at another rate.
                    DomainError::Invalid(fields)
                        if fields.iter().any(|f| f.code == ErrorCode::Conflict) =>
                    {
                        DomainError::Invalid(vec![FieldError::new(
                            "ratePencePerHour",
                            ErrorCode::Conflict,
                            "this support was already credited at another rate",
                        )])
                    }
                    other => other,
                })
        }
        .await;
        let (payment, user_errors) = payload(result)?;
        Ok(ReviewSupportCreditPayload {
            payment: payment.map(PaymentNode),
            user_errors,
        })
    }
}
