//! One membership's instalment is invoiced once, whichever path gets there first: the
//! supplementary run and the scheduled instalments both issue through [`issue_keyed_in`],
//! under one idempotency key derived from the membership and the instalment.

use kernel::{Actor, Clock, DomainError, MembershipId};

use crate::ledger::idempotency::{Caller, Keyed, Remembered};
use crate::ledger::{self, Instalment, NewInvoice};

/// The idempotency scope of membership instalments issued after the main run.
const SCOPE: &str = "invoice.membership_supplement";

/// What [`issue_keyed_in`] did.
pub(super) enum KeyedIssue {
    Issued(Box<ledger::Invoice>),
    /// An earlier call issued it.
    Existed,
    /// A concurrent call is issuing it: roll back.
    Raced,
}

/// Issues `invoice`, one membership's share of `instalment`, inside the caller's transaction,
/// under the key the supplementary run and the scheduled instalments share, so it is issued
/// once whichever of them gets there first. On [`KeyedIssue::Raced`] the caller must roll back.
pub(super) async fn issue_keyed_in<C>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    membership: MembershipId,
    instalment: Instalment,
    invoice: NewInvoice,
) -> Result<KeyedIssue, DomainError>
where
    C: sea_orm::ConnectionTrait + sea_orm::TransactionTrait,
{
    let key = format!("{membership}:{}", instalment.as_str());
    let keyed = Keyed::new(
        SCOPE,
        Caller::Trellis,
        Some(&key),
        &(membership, instalment.as_str()),
    )?
    .ok_or_else(|| DomainError::internal(kernel::CorruptRow("no key".into())))?;
    if keyed.replay(txn).await?.is_some() {
        return Ok(KeyedIssue::Existed);
    }
    let issued = ledger::issue_invoice(txn, actor, clock, invoice)
        .await?
        .invoice;
    Ok(
        match keyed
            .remember(txn, &[issued.id.as_uuid()], clock.now())
            .await?
        {
            Remembered::Stored => KeyedIssue::Issued(Box::new(issued)),
            Remembered::Raced => KeyedIssue::Raced,
        },
    )
}
