//! What each membership has been invoiced, for the supplementary invoicing run: which
//! memberships the year's invoices already bill, and for how much.

use std::collections::HashMap;

use kernel::{AcademicYear, DomainError, MembershipId, Money};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect};

use super::entity::{invoice_lines, invoices};
use super::status::InvoiceStatus;

/// The net each of `memberships` is invoiced for in `year`, over every invoice not voided
/// (credit notes are not netted off: a credited invoice still billed the membership).
/// Memberships no invoice bills are absent. One statement.
pub async fn invoiced_net_of_memberships<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
    memberships: &[MembershipId],
) -> Result<HashMap<MembershipId, Money>, DomainError> {
    if memberships.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Option<uuid::Uuid>, i64)> = invoice_lines::Entity::find()
        .select_only()
        .column(invoice_lines::Column::MembershipId)
        .column(invoice_lines::Column::NetPence)
        .join(
            JoinType::InnerJoin,
            invoice_lines::Entity::belongs_to(invoices::Entity)
                .from(invoice_lines::Column::InvoiceId)
                .to(invoices::Column::Id)
                .into(),
        )
        .filter(invoices::Column::AcademicYear.eq(year.start_year()))
        .filter(invoices::Column::Status.ne(InvoiceStatus::Void.as_str()))
        .filter(
            invoice_lines::Column::MembershipId
                .is_in(memberships.iter().map(MembershipId::as_uuid)),
        )
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<MembershipId, Money> = HashMap::new();
    for (membership, net) in rows {
        let Some(membership) = membership else {
            continue;
        };
        let sum = out
            .entry(MembershipId::from_uuid(membership))
            .or_insert_with(Money::zero);
        *sum = sum
            .checked_add(Money::from_pence(net))
            .map_err(DomainError::internal)?;
    }
    Ok(out)
}
