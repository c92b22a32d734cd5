//! Billing subscriptions, over graphql-ws (`GET /graphql` with a WebSocket upgrade).

use async_graphql::{Context, ID, Subscription};
use billing::ledger::{accounts, invoices};
use futures::Stream;
use kernel::{BillingAccountId, DomainError, Permission};
use tokio::sync::broadcast::error::RecvError;

use super::types::InvoiceNode;
use crate::events::{Bus, Event};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{internal, to_graphql};
use crate::graphql::relay::expect_input;
use crate::metrics::Metrics;

#[derive(Default, Debug)]
pub struct LedgerSubscription;

#[Subscription]
impl LedgerSubscription {
    /// An invoice's status, paid or credited amount changed (a payment allocated, a credit
    /// note, a void, a write-off), on any replica. Only invoices you may read arrive: finance
    /// and admins see every account's, a school's leader their own schools'. With
    /// `accountId`, only that account's (NOT_FOUND if you may not read it).
    async fn invoice_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the billing account.")] account_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = InvoiceNode> + use<>> {
        let rc = ctx.trellis()?;
        let (db, actor) = (rc.db.clone(), rc.actor.clone());
        actor.require(Permission::ReadBilling).map_err(to_graphql)?;
        let only = match account_id {
            Some(id) => {
                let id: BillingAccountId = expect_input(&id, "accountId").map_err(to_graphql)?;
                accounts::account(&db, &actor, id)
                    .await
                    .map_err(to_graphql)?;
                Some(id)
            }
            None => None,
        };
        let bus = ctx
            .data::<Bus>()
            .map_err(|_| internal("event bus missing"))?;
        let receiver = bus.subscribe();
        let guard = ctx
            .data::<std::sync::Arc<Metrics>>()
            .ok()
            .map(Metrics::subscription_opened);
        Ok(futures::stream::unfold(
            (receiver, db, actor, guard),
            move |(mut receiver, db, actor, guard)| async move {
                loop {
                    let (invoice, account) = match receiver.recv().await {
                        Ok(Event::InvoiceUpdated { invoice, account }) => (invoice, account),
                        Ok(_) => continue,
                        Err(RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "invoiceUpdated subscriber fell behind");
                            continue;
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    if only.is_some_and(|a| a != account) {
                        continue;
                    }
                    // Re-read under the subscriber's own permissions: the event says only
                    // which invoice changed, never what it now holds.
                    match invoices::invoice(&db, &actor, invoice).await {
                        Ok(found) => {
                            return Some((InvoiceNode::from(found), (receiver, db, actor, guard)));
                        }
                        Err(DomainError::NotFound { .. } | DomainError::Forbidden(_)) => {}
                        Err(e) => {
                            tracing::error!(error = %e.chain(), "invoiceUpdated re-read failed");
                        }
                    }
                }
            },
        ))
    }
}
