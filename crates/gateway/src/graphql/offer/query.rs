//! Reading the catalogue and value statements. A school's offer is read through
//! `School.offer(academicYear:)`.

use async_graphql::{Context, ID, Object};
use kernel::{DomainError, SchoolId};

use super::enums::Term;
use super::types::{OfferItemNode, ValueStatementNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::relay::expect_arg;
use crate::graphql::scalars::AcademicYearScalar;

#[derive(Default, Debug)]
pub struct OfferQuery;

#[Object]
impl OfferQuery {
    /// The core offer's catalogue, by name: what membership includes. Everyone signed in
    /// and `offer:read` keys.
    async fn offer_items(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Include items no longer granted.")] include_inactive: bool,
    ) -> async_graphql::Result<Vec<OfferItemNode>> {
        let rc = ctx.trellis()?;
        let items = offer::items(&rc.db, &rc.actor, include_inactive)
            .await
            .map_err(to_graphql)?;
        Ok(items.into_iter().map(OfferItemNode).collect())
    }

    /// What a school's use of its offer was worth in a year or one term, valued at the
    /// traded price of the equivalent service, against the fee it was invoiced. Null for a
    /// school that is not yours to see.
    async fn value_statement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the school.")] school_id: ID,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
        #[graphql(desc = "One term only; left out: the whole year.")] term: Option<Term>,
    ) -> async_graphql::Result<Option<ValueStatementNode>> {
        let rc = ctx.trellis()?;
        let school: SchoolId = expect_arg(&school_id)?;
        match offer::value_statement(
            &rc.db,
            &rc.actor,
            school,
            academic_year.0,
            term.map(Into::into),
        )
        .await
        {
            Ok(statement) => Ok(Some(ValueStatementNode(statement))),
            Err(DomainError::NotFound { .. }) => Ok(None),
            Err(other) => Err(to_graphql(other)),
        }
    }
}
