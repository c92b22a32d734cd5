//! Partnership-wide themes: areas for development raised across agreed reports, only in
//! aggregate.

use kernel::{Actor, DomainError, Permission, ReviewCycleId};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::cycles;
use crate::entity::{findings, reviews};
use crate::types::{FindingKind, ReviewStatus};

/// The fewest reviews a theme must be raised in before it is shown.
///
/// Five, as statistical disclosure control commonly suppresses cells under five: with a
/// smaller count, a reader who knows which schools were reviewed and what they are working on
/// could tell which school a theme came from — the partnership's groups are public and a
/// triad has only three schools. Counting distinct reviews (not findings) stops one report
/// raising a theme five times from clearing the bar.
pub const MIN_THEME_REVIEWS: u32 = 5;

/// One theme: never names a school or a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub area: String,
    pub area_label: String,
    /// The findings' shared theme label; empty for area-level findings.
    pub theme: String,
    /// In how many agreed reports of the cycle it was raised.
    pub reviews: u32,
}

#[derive(Debug, FromQueryResult)]
struct Row {
    area: String,
    theme: String,
    reviews: i64,
}

/// Areas for development raised in at least [`MIN_THEME_REVIEWS`] agreed reports of the
/// cycle, most frequent first. One aggregate statement; reports still being drafted are left
/// out, as they may yet change.
pub async fn themes(
    db: &DatabaseConnection,
    actor: &Actor,
    cycle: ReviewCycleId,
) -> Result<Vec<Theme>, DomainError> {
    actor.require(Permission::ReadPeerReview)?;
    let current = cycles::load(db, cycle).await?;
    let count = Expr::cust("COUNT(DISTINCT review_id)");
    let rows = findings::Entity::find()
        .select_only()
        .column(findings::Column::Area)
        .column(findings::Column::Theme)
        .column_as(count.clone(), "reviews")
        .filter(findings::Column::Kind.eq(FindingKind::AreaForDevelopment.as_str()))
        .filter(
            findings::Column::ReviewId.in_subquery(
                Query::select()
                    .column(reviews::Column::Id)
                    .from(reviews::Entity)
                    .and_where(reviews::Column::CycleId.eq(cycle.as_uuid()))
                    .and_where(reviews::Column::Status.is_in([
                        ReviewStatus::Agreed.as_str(),
                        ReviewStatus::PublishedToPartnership.as_str(),
                    ]))
                    .to_owned(),
            ),
        )
        .group_by(findings::Column::Area)
        .group_by(findings::Column::Theme)
        .having(count.gte(i64::from(MIN_THEME_REVIEWS)))
        .order_by_asc(findings::Column::Area)
        .order_by_asc(findings::Column::Theme)
        .into_model::<Row>()
        .all(db)
        .await?;
    let mut out: Vec<Theme> = rows
        .into_iter()
        .map(|r| Theme {
            area_label: current
                .framework
                .area(&r.area)
                .map_or_else(|| r.area.clone(), |a| a.label.clone()),
            area: r.area,
            theme: r.theme,
            reviews: u32::try_from(r.reviews).unwrap_or(u32::MAX),
        })
        .collect();
    out.sort_by(|a, b| {
        b.reviews
            .cmp(&a.reviews)
            .then_with(|| (&a.area, &a.theme).cmp(&(&b.area, &b.theme)))
    });
    Ok(out)
}
