//! Users, API keys and the viewer as the API shows them.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::Actor;
use membership::people::{ApiKey, User};

use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::{Prefetched, list_of};
use crate::graphql::relay::GlobalId;
use crate::graphql::scalars::AcademicYearScalar;

/// A person's role.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "kernel::Role")]
pub enum Role {
    /// Partnership staff who manage the directory, users and keys.
    PartnershipAdmin,
    /// Partnership finance staff.
    Finance,
    /// A headteacher or business manager acting for their school(s).
    SchoolLeader,
    /// Other staff of a member school.
    SchoolStaff,
}

/// What an API key may read.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "kernel::Scope")]
pub enum Scope {
    /// Read schools and partnerships (`directory:read`).
    DirectoryRead,
    /// Read every school's memberships, tiers and quotes (`membership:read`).
    MembershipRead,
    /// Read billing accounts, invoices, payments and finance reports (`billing:read`).
    BillingRead,
    /// Read the core offer and every school's entitlements, usage and value (`offer:read`).
    OfferRead,
    /// Read the published traded catalogue: services and their sessions, not bookings
    /// (`catalogue:read`).
    CatalogueRead,
}

#[derive(Debug, Clone)]
pub struct UserNode(pub User);

/// A person who signs in.
#[Object(name = "User")]
impl UserNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The address the user signs in with and is mailed at.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// The user's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the user may do.
    async fn role(&self) -> Role {
        self.0.role.into()
    }

    /// Inactive users cannot sign in.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// The schools this person acts for (school roles only).
    async fn schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        let rc = ctx.trellis()?;
        let ids = list_of(rc.loaders.user_schools(), self.0.id).await?;
        let mut schools: Vec<_> = rc
            .loaders
            .schools()
            .load_many(ids)
            .await?
            .into_values()
            .collect();
        schools.sort_by_key(membership::school::School::sort_key);
        Ok(schools.into_iter().map(SchoolNode::from).collect())
    }

    /// Where to download this person's CPD record (PDF; the same path ending `.csv` gives
    /// it as CSV): every traded session they held a place on, with the hours attended and
    /// certificates earned, for one academic year or (without it) every year. For the
    /// person, their school's leaders and partnership admins; null for everyone else.
    async fn cpd_record_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: Option<AcademicYearScalar>,
    ) -> async_graphql::Result<Option<String>> {
        let rc = ctx.trellis()?;
        let schools = list_of(rc.loaders.user_schools(), self.0.id).await?;
        if !traded::may_read_record(&rc.actor, self.0.id, &schools) {
            return Ok(None);
        }
        let year = academic_year
            .map(|y| format!("?year={}", y.0.to_string().replace('/', "%2F")))
            .unwrap_or_default();
        Ok(Some(format!(
            "/reports/people/{}/cpd.pdf{year}",
            self.0.id.to_global().as_str()
        )))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct ApiKeyNode(pub ApiKey);

/// An integrator's API key. The secret is shown once, at creation, and never again.
#[Object(name = "ApiKey")]
impl ApiKeyNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// What the key is for, as its creator named it (e.g. the integrator's product).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the key, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    /// What the key may read or do; a key can do nothing outside its scopes.
    async fn scopes(&self) -> Vec<Scope> {
        self.0.scopes.iter().copied().map(Into::into).collect()
    }

    /// The admin who created the key, if they still have an account.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(id) = self.0.created_by else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .users()
            .load_one(id)
            .await?
            .map(UserNode))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the key was revoked; revoked keys are refused.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }

    /// Roughly when the key was last used (recorded at most once a minute).
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// The caller.
#[derive(SimpleObject, Debug)]
#[graphql(complex)]
pub struct Viewer {
    /// The key's scopes when calling with an API key; empty for people.
    pub scopes: Vec<Scope>,
    #[graphql(skip)]
    pub actor: Actor,
}

#[async_graphql::ComplexObject]
impl Viewer {
    /// The signed-in person; null when calling with an API key.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        // Read only when asked: most pages start at `viewer` for its schools, and reading the
        // user there anyway cost every such page a statement of its own.
        let Actor::User(user) = &self.actor else {
            return Ok(None);
        };
        let rc = ctx.trellis()?;
        Ok(rc.loaders.users().load_one(user.id).await?.map(UserNode))
    }

    /// The schools whose records the caller sees as their own (school roles).
    async fn schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        let Actor::User(user) = &self.actor else {
            return Ok(Vec::new());
        };
        let rc = ctx.trellis()?;
        // A dashboard showing each school's membership reads the memberships with the
        // schools: one statement, not the schools and then a batch.
        let look = ctx.look_ahead();
        let mut schools: Vec<SchoolNode> = if look.field("memberships").exists()
            || look.field("offer").field("membership").exists()
        {
            membership::visibility::visible_schools_with_memberships(
                &rc.db,
                &rc.actor,
                &user.schools,
            )
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(|(school, memberships)| SchoolNode(school, Prefetched::Read(memberships)))
            .collect()
        } else {
            rc.loaders
                .schools()
                .load_many(user.schools.iter().copied())
                .await?
                .into_values()
                .map(SchoolNode::from)
                .collect()
        };
        schools.sort_by_cached_key(|s| s.0.sort_key());
        Ok(schools)
    }

    /// The viewer's messages, newest first: everything Trellis told them by email, and
    /// everything it would have if email were configured. People only (a key has no inbox).
    /// `first` takes 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, None, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only notifications not yet read.")] unread_only: bool,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
    ) -> async_graphql::Result<crate::graphql::notifications::NotificationConnection> {
        crate::graphql::notifications::viewer_notifications(ctx, unread_only, first, after).await
    }

    /// How many of the viewer's messages are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        crate::graphql::notifications::viewer_unread(ctx).await
    }

    /// Which categories of email the viewer has muted.
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::notifications::types::NotificationPreference>>
    {
        crate::graphql::notifications::viewer_preferences(ctx).await
    }

    /// The viewer's calendar feeds and those of their schools (without their URLs, which
    /// are shown once, when made).
    async fn calendar_feeds(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::notifications::types::CalendarFeed>> {
        crate::graphql::notifications::viewer_feeds(ctx).await
    }
}
