//! Stripe in GraphQL: mirroring an invoice on demand, and the mirror's links and payment
//! state on `Invoice`. The provider is schema data ([`PaymentMirror`]), set when Stripe is
//! configured; without it the mutation says so and the fields are null.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use billing::mirror::{self, MirroredInvoice};
use billing::provider::PaymentProvider;
use kernel::{DomainError, ErrorCode, InvoiceId};

use super::mutation::InvoicePayload;
use super::types::InvoiceNode;
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::errors::payload;
use crate::graphql::relay::expect_input;

/// The configured payment provider invoices are mirrored to (Stripe), if any.
#[derive(Clone)]
pub struct PaymentMirror(pub Option<Arc<dyn PaymentProvider>>);

impl std::fmt::Debug for PaymentMirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PaymentMirror")
            .field(&self.0.as_ref().map(|p| p.name()))
            .finish()
    }
}

/// The provider, when one is configured.
pub fn provider(ctx: &Context<'_>) -> Option<Arc<dyn PaymentProvider>> {
    ctx.data_opt::<PaymentMirror>().and_then(|m| m.0.clone())
}

/// Mirrors a ledger change at the provider after it committed. The ledger is the book of
/// record, so a provider failure does not undo the change: it is logged, and
/// `invoiceMirror` (or the next change) retries with the same idempotency keys.
pub async fn follow(ctx: &Context<'_>, rc: &RequestContext, change: Change) {
    let Some(provider) = provider(ctx) else {
        return;
    };
    let result = match change {
        Change::Void(id) => mirror::mirror_void(&rc.db, &rc.actor, provider.as_ref(), id)
            .await
            .map(|_| ()),
        Change::CreditNote(id) => {
            mirror::mirror_credit_note(&rc.db, &rc.actor, provider.as_ref(), id)
                .await
                .map(|_| ())
        }
    };
    if let Err(err) = result {
        tracing::warn!(error = %err.chain(), ?change, "mirroring a ledger change to the payment provider failed");
    }
}

/// A committed ledger change the provider should follow.
#[derive(Debug, Clone, Copy)]
pub enum Change {
    Void(InvoiceId),
    CreditNote(kernel::CreditNoteId),
}

#[derive(InputObject, Debug)]
pub struct InvoiceMirrorInput {
    pub id: ID,
}

#[derive(Default, Debug)]
pub struct StripeMutation;

#[Object]
impl StripeMutation {
    /// Send an issued invoice to the payment provider (Stripe): its customer is created once,
    /// the invoice is finalised there and its hosted page and PDF are stored. Safe to repeat:
    /// a retry finds the same Stripe invoice. Finance and admins.
    async fn invoice_mirror(
        &self,
        ctx: &Context<'_>,
        input: InvoiceMirrorInput,
    ) -> async_graphql::Result<InvoicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceId = expect_input(&input.id, "id")?;
            let Some(provider) = provider(ctx) else {
                rc.actor.require(kernel::Permission::ManageBilling)?;
                return Err(DomainError::invalid(
                    "id",
                    ErrorCode::Invalid,
                    "no payment provider is configured (TRELLIS_STRIPE_SECRET_KEY)",
                ));
            };
            mirror::mirror_invoice(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref(), id)
                .await?;
            billing::ledger::invoices::invoice(&rc.db, &rc.actor, id).await
        }
        .await;
        let (invoice, user_errors) = payload(result)?;
        Ok(InvoicePayload {
            invoice: invoice.map(InvoiceNode),
            user_errors,
        })
    }
}

/// The invoice's mirror, through the request's loader.
pub async fn mirror_of(
    ctx: &Context<'_>,
    id: InvoiceId,
) -> async_graphql::Result<Option<MirroredInvoice>> {
    ctx.trellis()?.loaders.invoice_mirrors.load_one(id).await
}
