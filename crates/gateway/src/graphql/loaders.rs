//! Batched loading for every edge of the graph.
//!
//! Each loader turns the keys requested while resolving one level of a query into one
//! statement, so a list of N schools with their partnerships costs the same number of
//! statements as one school. Loaders are built per request (their cache must never serve
//! one caller another's reads), each on the request's first use of it ([`Loaders`]).
//!
//! Two kinds, and no rule of who sees what in either. `loader!` loaders are edges: they read
//! what hangs off a record the caller has already been shown (an invoice's lines, a session's
//! service), unchecked; so are `per_year_loader!` ones, for a school's reads of one year.
//! `checked_loader!` loaders hold the caller and call a domain's checked read
//! (`*::visibility::visible_*`), which answers only what that caller may see; a resolver
//! asking "may this be shown?" asks one of those. This is the only gateway module allowed to
//! call an unchecked domain read (`tests/checked_reads.rs` keeps it so).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use billing::fees::{self, FeeSchedule};
use billing::ledger::invoices::LineWithSchool;
use billing::ledger::{
    Allocation, BillingAccount, CreditNote, Invoice, InvoiceLine, Payment, Refund, accounts,
    credit_notes, invoices, payments, refunds,
};
use kernel::{
    AcademicYear, Actor, BillingAccountId, DomainError, InvoiceId, MembershipId, PartnershipId,
    PaymentId, SchoolId, TierId, UserId,
};
use kernel::{ReviewCycleId, ReviewGroupId, ReviewId, ReviewerId};
use membership::memberships::{self, Membership, MembershipWithTier, Tier};
use membership::partnership::{self, Member, Partnership, SchoolPartnership};
use membership::people::{User, users};
use membership::school::inspection::Inspection;
use membership::school::types::Designation;
use membership::school::{self, School};
use peer_review::cycles::{self as review_cycles, Cycle};
use peer_review::groups::{self as review_groups, Group};
use peer_review::report::{Action, Consent, Finding};
use peer_review::reviewers::{self, Reviewer};
use peer_review::reviews::{Review, SelfReview, TeamMember};
use sea_orm::DatabaseConnection;

use billing::ledger::reports::MembershipFees;
use kernel::{OfferEntryId, OfferItemId};
use offer::{
    Balance, ItemQuantity, LedgerEntry, LineWithLatest, OfferItem, OfferLine, RecordedEntry,
};

use super::batch_scope::BatchScope;
use super::errors::to_graphql;

type LoadResult<K, V> = Result<HashMap<K, V>, async_graphql::Error>;

fn mapped<K, V>(result: Result<HashMap<K, V>, DomainError>) -> LoadResult<K, V> {
    result.map_err(to_graphql)
}

macro_rules! loader {
    ($(#[$meta:meta])* $name:ident, $key:ty => $value:ty, |$db:ident, $keys:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(DatabaseConnection);

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, $keys: &[$key]) -> LoadResult<$key, $value> {
                let $db = &self.0;
                mapped($body.await)
            }
        }
    };
}

/// A loader answering only what the request's caller may see: it calls a domain's checked
/// read with the caller, so the rule is the domain's and no resolver restates it.
macro_rules! checked_loader {
    ($(#[$meta:meta])* $name:ident, $key:ty => $value:ty, |$db:ident, $actor:ident, $keys:ident| $body:expr) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(DatabaseConnection, Arc<Actor>);

        impl Loader<$key> for $name {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, $keys: &[$key]) -> LoadResult<$key, $value> {
                let ($db, $actor) = (&self.0, self.1.as_ref());
                mapped($body.await)
            }
        }
    };
}

/// A loader keyed by (school, academic year) over a domain read of many schools in one
/// year: one statement per distinct year asked for, in practice one.
macro_rules! per_year_loader {
    ($(#[$meta:meta])* $name:ident => $value:ty, $read:path) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name(DatabaseConnection);

        impl Loader<(SchoolId, AcademicYear)> for $name {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(
                &self,
                keys: &[(SchoolId, AcademicYear)],
            ) -> LoadResult<(SchoolId, AcademicYear), $value> {
                let db = &self.0;
                per_year(keys, |schools, year| async move { $read(db, &schools, year).await })
                    .await
            }
        }
    };
}

/// A batch of (school, year) keys read with one call of `read` per distinct year: in
/// practice one, however many schools a page shows.
async fn per_year<V, Fut>(
    keys: &[(SchoolId, AcademicYear)],
    read: impl Fn(Vec<SchoolId>, AcademicYear) -> Fut,
) -> LoadResult<(SchoolId, AcademicYear), V>
where
    Fut: Future<Output = Result<HashMap<SchoolId, V>, DomainError>>,
{
    let mut by_year: HashMap<AcademicYear, Vec<SchoolId>> = HashMap::new();
    for (school, year) in keys {
        by_year.entry(*year).or_default().push(*school);
    }
    let mut found = HashMap::new();
    for (year, schools) in by_year {
        let read = read(schools, year).await.map_err(to_graphql)?;
        found.extend(
            read.into_iter()
                .map(|(school, value)| ((school, year), value)),
        );
    }
    Ok(found)
}

loader!(
    /// Schools by id.
    SchoolLoader, SchoolId => School, |db, keys| school::by_ids(db, keys)
);
loader!(
    /// Each school's designations.
    DesignationLoader, SchoolId => Vec<Designation>, |db, keys| school::designations_of(db, keys)
);
loader!(
    /// Each school's inspections, newest first.
    InspectionLoader, SchoolId => Vec<Inspection>, |db, keys| school::inspections_of(db, keys)
);
loader!(
    /// Each school's roll history, newest census first.
    RollHistoryLoader, SchoolId => Vec<school::RecordedRoll>, |db, keys| school::roll_history_of(db, keys)
);
loader!(
    /// Partnerships by id.
    PartnershipLoader, PartnershipId => Partnership, |db, keys| partnership::by_ids(db, keys)
);
loader!(
    /// Each partnership's members, by school name.
    MembersLoader, PartnershipId => Vec<Member>, |db, keys| partnership::members_of(db, keys)
);
loader!(
    /// Each school's partnerships, by partnership name, each with the school's place in it.
    MembershipsLoader, SchoolId => Vec<SchoolPartnership>, |db, keys| partnership::memberships_of(db, keys)
);
loader!(
    /// Each partnership's lead school.
    LeadLoader, PartnershipId => SchoolId, |db, keys| partnership::leads_of(db, keys)
);
loader!(
    /// Users by id.
    UserLoader, UserId => User, |db, keys| users::by_ids(db, keys)
);
loader!(
    /// The schools each user acts for.
    UserSchoolsLoader, UserId => Vec<SchoolId>, |db, keys| users::schools_of(db, keys)
);

loader!(
    /// Membership tiers by id.
    TierLoader, TierId => Tier, |db, keys| memberships::tiers_by_ids(db, keys)
);
loader!(
    /// Memberships by id: an edge from a record the caller was shown.
    MembershipLoader, MembershipId => Membership, |db, keys| memberships::by_ids(db, keys)
);
checked_loader!(
    /// Each school's memberships, newest year first, where the caller may read them.
    SchoolMembershipsLoader, SchoolId => Vec<MembershipWithTier>, |db, actor, keys| membership::visibility::visible_memberships_of_schools(db, actor, keys)
);

/// Fee schedules by (academic year, tier): one statement per distinct year asked for —
/// in practice one, however many memberships a page shows.
#[derive(Debug)]
pub struct ScheduleLoader(DatabaseConnection);

impl Loader<(AcademicYear, TierId)> for ScheduleLoader {
    type Value = FeeSchedule;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[(AcademicYear, TierId)],
    ) -> LoadResult<(AcademicYear, TierId), FeeSchedule> {
        let years: BTreeSet<AcademicYear> = keys.iter().map(|(year, _)| *year).collect();
        let mut found = HashMap::new();
        for year in years {
            // Schedules are a published price list; who may see the membership asking for
            // its fee was checked on the membership.
            let schedules = fees::schedules_for_year(&self.0, &Actor::System, year)
                .await
                .map_err(to_graphql)?;
            found.extend(schedules.into_iter().map(|s| ((s.year, s.tier_id), s)));
        }
        Ok(found)
    }
}

loader!(
    /// Billing accounts by id.
    AccountLoader, BillingAccountId => BillingAccount, |db, keys| accounts::accounts_by_ids(db, keys)
);
checked_loader!(
    /// The account paying for each school, where the caller may read it.
    SchoolAccountLoader, SchoolId => BillingAccount, |db, actor, keys| billing::visibility::visible_accounts_of_schools(db, actor, keys)
);
checked_loader!(
    /// Billing accounts the caller may read: asked whether a record billed to one may be shown.
    ReadableAccountLoader, BillingAccountId => BillingAccount, |db, actor, keys| billing::visibility::visible_accounts(db, actor, keys)
);
checked_loader!(
    /// Invoices the caller may read.
    ReadableInvoiceLoader, InvoiceId => Invoice, |db, actor, keys| billing::visibility::visible_invoices(db, actor, keys)
);
loader!(
    /// Invoices by id.
    InvoiceLoader, InvoiceId => Invoice, |db, keys| invoices::invoices_by_ids(db, keys)
);
loader!(
    /// Each account's invoices.
    AccountInvoicesLoader, BillingAccountId => Vec<Invoice>, |db, keys| invoices::invoices_of_accounts(db, keys)
);
loader!(
    /// Each invoice's lines, in order.
    InvoiceLinesLoader, InvoiceId => Vec<InvoiceLine>, |db, keys| invoices::lines_of_invoices(db, keys)
);
loader!(
    /// Each invoice's lines, in order, each with its school read in the same statement.
    InvoiceLinesWithSchoolsLoader, InvoiceId => Vec<LineWithSchool>, |db, keys| invoices::lines_of_invoices_with_schools(db, keys)
);
loader!(
    /// Each invoice's credit notes.
    InvoiceCreditNotesLoader, InvoiceId => Vec<CreditNote>, |db, keys| credit_notes::credit_notes_of_invoices(db, keys)
);
loader!(
    /// Each invoice's allocations.
    InvoiceAllocationsLoader, InvoiceId => Vec<Allocation>, |db, keys| payments::allocations_of_invoices(db, keys)
);
loader!(
    /// Payments by id.
    PaymentLoader, PaymentId => Payment, |db, keys| payments::payments_by_ids(db, keys)
);
loader!(
    /// Each account's payments.
    AccountPaymentsLoader, BillingAccountId => Vec<Payment>, |db, keys| payments::payments_of_accounts(db, keys)
);
loader!(
    /// Each payment's allocations.
    PaymentAllocationsLoader, PaymentId => Vec<Allocation>, |db, keys| payments::allocations_of_payments(db, keys)
);
loader!(
    /// Each payment's refunds.
    PaymentRefundsLoader, PaymentId => Vec<Refund>, |db, keys| refunds::refunds_of_payments(db, keys)
);

loader!(
    /// Each account's school moves, in and out, newest first.
    AccountMovesLoader, BillingAccountId => Vec<billing::ledger::AccountMove>, |db, keys| billing::ledger::moves::moves_of_accounts(db, keys)
);

loader!(
    /// Offer items by id.
    OfferItemLoader, OfferItemId => OfferItem, |db, keys| offer::items_by_ids(db, keys)
);
loader!(
    /// Each offer item's quantities, newest year first.
    OfferQuantitiesLoader, OfferItemId => Vec<ItemQuantity>, |db, keys| offer::quantities_of_items(db, keys)
);
loader!(
    /// Offer ledger entries by id (a reversal's usage).
    OfferEntryLoader, OfferEntryId => LedgerEntry, |db, keys| offer::entries_by_ids(db, keys)
);

per_year_loader!(
    /// Each school's offer balances for a year.
    OfferBalancesLoader => Vec<Balance>, offer::balances_of_schools
);
per_year_loader!(
    /// Each school's offer for a year, each balance with its item, by item name.
    OfferLinesLoader => Vec<OfferLine>, offer::lines_of_schools
);

/// The first page of each entitlement's ledger, newest first: (school, item, year, rows,
/// whether to read each entry's recorder with it). One statement per distinct year, page size
/// and choice, however many items a dashboard shows; without recorders, each is `None`.
#[derive(Debug)]
pub struct OfferLatestEntriesLoader(DatabaseConnection);

pub type LatestEntriesKey = (SchoolId, OfferItemId, AcademicYear, u64, bool);

impl Loader<LatestEntriesKey> for OfferLatestEntriesLoader {
    type Value = Vec<RecordedEntry>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[LatestEntriesKey]) -> LoadResult<LatestEntriesKey, Self::Value> {
        let mut groups: HashMap<(AcademicYear, u64, bool), Vec<(SchoolId, OfferItemId)>> =
            HashMap::new();
        for (school, item, year, rows, recorders) in keys {
            groups
                .entry((*year, *rows, *recorders))
                .or_default()
                .push((*school, *item));
        }
        let mut found = HashMap::new();
        for ((year, rows, recorders), pairs) in groups {
            let mut latest = if recorders {
                offer::latest_entries_with_recorders(&self.0, &pairs, year, rows).await
            } else {
                offer::latest_entries_of_school_items(&self.0, &pairs, year, rows)
                    .await
                    .map(|latest| {
                        latest
                            .into_iter()
                            .map(|(key, entries)| {
                                (key, entries.into_iter().map(|e| (e, None)).collect())
                            })
                            .collect()
                    })
            }
            .map_err(to_graphql)?;
            for (school, item) in pairs {
                found.insert(
                    (school, item, year, rows, recorders),
                    latest.remove(&(school, item)).unwrap_or_default(),
                );
            }
        }
        Ok(found)
    }
}

/// Each school's offer lines for a year, each with the first page of its ledger: (school,
/// year, rows, whether to read each entry's recorder). One statement per distinct year, page
/// size and choice ([`offer::lines_with_latest_entries`]): a dashboard's balances and ledgers
/// together, where [`OfferLinesLoader`] then [`OfferLatestEntriesLoader`] would cost two.
#[derive(Debug)]
pub struct OfferOverviewLoader(DatabaseConnection);

pub type OverviewKey = (SchoolId, AcademicYear, u64, bool);

impl Loader<OverviewKey> for OfferOverviewLoader {
    type Value = Vec<LineWithLatest>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OverviewKey]) -> LoadResult<OverviewKey, Self::Value> {
        let mut groups: HashMap<(AcademicYear, u64, bool), Vec<SchoolId>> = HashMap::new();
        for (school, year, rows, recorders) in keys {
            groups
                .entry((*year, *rows, *recorders))
                .or_default()
                .push(*school);
        }
        let mut found = HashMap::new();
        for ((year, rows, recorders), schools) in groups {
            let lines = offer::lines_with_latest_entries(&self.0, &schools, year, rows, recorders)
                .await
                .map_err(to_graphql)?;
            found.extend(
                lines
                    .into_iter()
                    .map(|(school, lines)| ((school, year, rows, recorders), lines)),
            );
        }
        Ok(found)
    }
}

per_year_loader!(
    /// Each school's membership fees for a year (billing), for the value statement.
    MembershipFeesLoader => MembershipFees, billing::ledger::reports::membership_fees_of_schools
);

loader!(
    /// Review cycles by id.
    ReviewCycleLoader, ReviewCycleId => Cycle, |db, keys| review_cycles::cycles_by_ids(db, keys)
);
loader!(
    /// Each cycle's participating schools.
    CycleParticipantsLoader, ReviewCycleId => Vec<SchoolId>, |db, keys| review_cycles::participants_of(db, keys)
);
loader!(
    /// Review groups by id, with their members in rota order.
    ReviewGroupLoader, ReviewGroupId => Group, |db, keys| review_groups::groups_by_ids(db, keys)
);
loader!(
    /// Reviewers by id.
    ReviewerLoader, ReviewerId => Reviewer, |db, keys| reviewers::reviewers_by_ids(db, keys)
);
checked_loader!(
    /// Each school's reviewers, best trained first, to those who run peer review.
    SchoolReviewersLoader, SchoolId => Vec<Reviewer>, |db, actor, keys| peer_review::visibility::visible_reviewers_of_schools(db, actor, keys)
);
loader!(
    /// Reviews by id (whether the caller may read one is checked by whoever holds the id).
    ReviewLoader, ReviewId => Review, |db, keys| peer_review::loaders::reviews_by_ids(db, keys)
);
checked_loader!(
    /// The reviews each school hosts whose report the caller may read.
    SchoolReviewsLoader, SchoolId => Vec<Review>, |db, actor, keys| peer_review::visibility::visible_reviews_of_schools(db, actor, keys)
);
checked_loader!(
    /// Reviews whose report the caller may read.
    ReadableReviewLoader, ReviewId => Review, |db, actor, keys| peer_review::visibility::visible_reviews(db, actor, keys)
);
loader!(
    /// Each review's team.
    ReviewTeamLoader, ReviewId => Vec<TeamMember>, |db, keys| peer_review::loaders::teams_of(db, keys)
);
loader!(
    /// Each review's sharing consents.
    ReviewConsentsLoader, ReviewId => Vec<Consent>, |db, keys| peer_review::loaders::consents_of(db, keys)
);
loader!(
    /// Each review's self-review.
    SelfReviewLoader, ReviewId => SelfReview, |db, keys| peer_review::loaders::self_reviews_of(db, keys)
);
loader!(
    /// Each review's findings.
    ReviewFindingsLoader, ReviewId => Vec<Finding>, |db, keys| peer_review::loaders::findings_of(db, keys)
);
loader!(
    /// Each review's follow-up actions with their support requests.
    ReviewActionsLoader, ReviewId => Vec<Action>, |db, keys| peer_review::loaders::actions_of(db, keys)
);
loader!(
    /// Each invoice's mirror at the payment provider (Stripe).
    InvoiceMirrorLoader, InvoiceId => billing::mirror::MirroredInvoice, |db, keys| billing::mirror::mirrored_invoices_by_ids(db, keys)
);
loader!(
    /// Booking charges by id (whether the caller may see one is checked on its account).
    ChargeLoader, kernel::ChargeId => billing::charges::Charge, |db, keys| billing::charges::charges_by_ids(db, keys)
);
loader!(
    /// Each account's pending booking charges, by day of booking.
    AccountPendingChargesLoader, BillingAccountId => Vec<billing::charges::Charge>, |db, keys| billing::charges::pending_by_account(db, keys)
);
loader!(
    /// Each traded booking's charge, by booking id (for the bookings' `charge` edge).
    BookingChargeLoader, uuid::Uuid => billing::charges::Charge, |db, keys| billing::charges::charges_by_bookings(db, keys)
);

loader!(
    /// Traded services by id: an edge from a record the caller was shown.
    ServiceLoader, kernel::ServiceId => traded::Service, |db, keys| traded::services_by_ids(db, keys)
);
loader!(
    /// Traded sessions by id.
    SessionLoader, kernel::SessionId => traded::Session, |db, keys| traded::sessions_by_ids(db, keys)
);
loader!(
    /// Each service's sessions in date order.
    ServiceSessionsLoader, kernel::ServiceId => Vec<traded::Session>, |db, keys| traded::sessions_of_services(db, keys)
);
loader!(
    /// Bookings by id: an edge from a record the caller was shown.
    BookingLoader, kernel::BookingId => traded::Booking, |db, keys| traded::bookings_by_ids(db, keys)
);
loader!(
    /// Each booking's attendees in booking order.
    BookingAttendeesLoader, kernel::BookingId => Vec<traded::Attendee>, |db, keys| traded::attendees_of_bookings(db, keys)
);
loader!(
    /// Attendees by id.
    AttendeeLoader, kernel::AttendeeId => traded::Attendee, |db, keys| traded::attendees_by_ids(db, keys)
);
loader!(
    /// Each session's bookings, every status, oldest first.
    SessionBookingsLoader, kernel::SessionId => Vec<traded::Booking>, |db, keys| traded::bookings_of_sessions(db, keys)
);
checked_loader!(
    /// Each school's bookings, oldest first, where the caller may read them.
    SchoolBookingsLoader, SchoolId => Vec<traded::Booking>, |db, actor, keys| traded::visible_bookings_of_schools(db, actor, keys)
);
checked_loader!(
    /// Bookings the caller may read (the school's people, staff, the session's provider).
    ReadableBookingLoader, kernel::BookingId => traded::Booking, |db, actor, keys| traded::visible_bookings(db, actor, keys)
);
loader!(
    /// Each service's ratings (services nobody rated are absent).
    ServiceRatingLoader, kernel::ServiceId => traded::RatingSummary, |db, keys| traded::ratings_of_services(db, keys)
);
loader!(
    /// Each session's feedback, oldest first.
    SessionFeedbackLoader, kernel::SessionId => Vec<traded::Feedback>, |db, keys| traded::feedback_of_sessions(db, keys)
);

/// Every loader of one request, each built the first time a resolver asks for it: a request
/// uses a handful of the sixty, and building them all cost about 1% of a small query's CPU
/// (#18's profile).
pub struct Loaders {
    db: DatabaseConnection,
    /// One copy of the caller for every checked loader of the request.
    actor: Arc<Actor>,
    batching: OwnedBatching,
    built: Built,
}

impl fmt::Debug for Loaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Loaders")
    }
}

/// Where a request's loaders run their batches.
#[derive(Debug, Clone, Copy)]
pub enum Batching<'a> {
    /// In the request's own task, once it has asked for every key of a level: queries and
    /// mutations over HTTP, whose execution [`BatchScope::run`] wraps.
    Scoped(&'a BatchScope),
    /// In tasks of their own, after gathering keys for the delay: a subscription's resolvers
    /// run inside a long-lived stream, which no scope wraps.
    Spawned(Duration),
}

/// [`Batching`], kept by the loaders until they are built.
#[derive(Debug, Clone)]
enum OwnedBatching {
    Scoped(BatchScope),
    Spawned(Duration),
}

impl Loaders {
    #[must_use]
    pub fn new(db: &DatabaseConnection, actor: &Actor, batching: Batching<'_>) -> Self {
        Self {
            db: db.clone(),
            actor: Arc::new(actor.clone()),
            batching: match batching {
                Batching::Scoped(scope) => OwnedBatching::Scoped(scope.clone()),
                Batching::Spawned(delay) => OwnedBatching::Spawned(delay),
            },
            built: Built::default(),
        }
    }

    fn make<L: Send + Sync + 'static>(&self, loader: L) -> DataLoader<Spanned<L>> {
        match &self.batching {
            // The scope polls the batch inside the operation's span, so its `dataloader`
            // span is the operation's child.
            OwnedBatching::Scoped(scope) => {
                DataLoader::new(Spanned::new(loader), scope.spawner()).delay(Duration::ZERO)
            }
            // The batch carries the operation's span into its task, so its `dataloader`
            // span is the operation's child, not the root of a new trace.
            OwnedBatching::Spawned(delay) => DataLoader::new(Spanned::new(loader), |batch| {
                tokio::spawn(tracing::Instrument::in_current_span(batch))
            })
            .delay(*delay),
        }
    }
}

/// Declares each loader of [`Loaders`]: a slot in [`Built`] and an accessor that builds the
/// loader on first use from the request's connection (and caller, for checked loaders).
macro_rules! loaders {
    ($($name:ident: $loader:ident($($arg:ident),+),)*) => {
        #[derive(Default)]
        struct Built {
            $($name: OnceLock<DataLoader<Spanned<$loader>>>,)*
        }

        impl Loaders {
            $(
                #[doc = concat!("The request's [`", stringify!($loader), "`].")]
                pub fn $name(&self) -> &DataLoader<Spanned<$loader>> {
                    self.built.$name.get_or_init(|| {
                        self.make($loader($(loaders!(@arg self, $arg)),+))
                    })
                }
            )*
        }
    };
    (@arg $self:ident, db) => { $self.db.clone() };
    (@arg $self:ident, actor) => { Arc::clone(&$self.actor) };
}

loaders! {
    schools: SchoolLoader(db),
    designations: DesignationLoader(db),
    inspections: InspectionLoader(db),
    roll_history: RollHistoryLoader(db),
    partnerships: PartnershipLoader(db),
    members: MembersLoader(db),
    memberships: MembershipsLoader(db),
    leads: LeadLoader(db),
    users: UserLoader(db),
    user_schools: UserSchoolsLoader(db),
    tiers: TierLoader(db),
    memberships_by_id: MembershipLoader(db),
    school_memberships: SchoolMembershipsLoader(db, actor),
    schedules: ScheduleLoader(db),
    accounts: AccountLoader(db),
    school_accounts: SchoolAccountLoader(db, actor),
    readable_accounts: ReadableAccountLoader(db, actor),
    readable_invoices: ReadableInvoiceLoader(db, actor),
    invoices: InvoiceLoader(db),
    account_invoices: AccountInvoicesLoader(db),
    invoice_lines: InvoiceLinesLoader(db),
    invoice_lines_with_schools: InvoiceLinesWithSchoolsLoader(db),
    invoice_credit_notes: InvoiceCreditNotesLoader(db),
    invoice_allocations: InvoiceAllocationsLoader(db),
    payments: PaymentLoader(db),
    account_payments: AccountPaymentsLoader(db),
    payment_allocations: PaymentAllocationsLoader(db),
    payment_refunds: PaymentRefundsLoader(db),
    offer_items: OfferItemLoader(db),
    offer_quantities: OfferQuantitiesLoader(db),
    offer_entries: OfferEntryLoader(db),
    offer_balances: OfferBalancesLoader(db),
    offer_lines: OfferLinesLoader(db),
    offer_latest_entries: OfferLatestEntriesLoader(db),
    offer_overview: OfferOverviewLoader(db),
    membership_fees: MembershipFeesLoader(db),
    review_cycles: ReviewCycleLoader(db),
    cycle_participants: CycleParticipantsLoader(db),
    review_groups: ReviewGroupLoader(db),
    reviewers: ReviewerLoader(db),
    school_reviewers: SchoolReviewersLoader(db, actor),
    reviews: ReviewLoader(db),
    school_reviews: SchoolReviewsLoader(db, actor),
    readable_reviews: ReadableReviewLoader(db, actor),
    review_teams: ReviewTeamLoader(db),
    review_consents: ReviewConsentsLoader(db),
    self_reviews: SelfReviewLoader(db),
    review_findings: ReviewFindingsLoader(db),
    review_actions: ReviewActionsLoader(db),
    invoice_mirrors: InvoiceMirrorLoader(db),
    services: ServiceLoader(db),
    sessions: SessionLoader(db),
    service_sessions: ServiceSessionsLoader(db),
    bookings: BookingLoader(db),
    booking_attendees: BookingAttendeesLoader(db),
    attendees: AttendeeLoader(db),
    session_bookings: SessionBookingsLoader(db),
    school_bookings: SchoolBookingsLoader(db, actor),
    readable_bookings: ReadableBookingLoader(db, actor),
    charges: ChargeLoader(db),
    account_pending_charges: AccountPendingChargesLoader(db),
    account_moves: AccountMovesLoader(db),
    booking_charges: BookingChargeLoader(db),
    service_ratings: ServiceRatingLoader(db),
    session_feedback: SessionFeedbackLoader(db),
}

/// A loader whose every batch is a `dataloader` span named for it (`dataloader SchoolLoader`)
/// with the batch's size: one statement each, the spans worth exporting.
#[derive(Debug)]
pub struct Spanned<L> {
    /// The loader's type name, without its path: built for every loader a request uses, so
    /// no allocation here.
    name: &'static str,
    inner: L,
}

impl<L> Spanned<L> {
    fn new(inner: L) -> Self {
        let path = std::any::type_name::<L>();
        let short = path.rsplit("::").next().unwrap_or(path);
        Self { name: short, inner }
    }
}

impl<K, L> Loader<K> for Spanned<L>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    L: Loader<K>,
{
    type Value = L::Value;
    type Error = L::Error;

    fn load(
        &self,
        keys: &[K],
    ) -> impl Future<Output = Result<HashMap<K, Self::Value>, Self::Error>> + Send {
        let span = tracing::info_span!(
            "dataloader",
            otel.name = %format_args!("dataloader {}", self.name),
            batch.size = keys.len()
        );
        tracing::Instrument::instrument(self.inner.load(keys), span)
    }
}

/// A record a page read with its parent in the same statement, or did not (then the field
/// that shows it asks its batch loader): see the `offer` and `billing` look-aheads.
#[derive(Debug, Clone)]
pub enum Prefetched<T> {
    /// Not read with the parent.
    Unread,
    /// Read with the parent.
    Read(T),
}

/// The list a one-to-many loader holds for `key`; a key with nothing behind it is an empty
/// list, since loaders leave such keys out of their maps rather than storing empty vectors.
pub async fn list_of<L, K, T>(loader: &DataLoader<L>, key: K) -> async_graphql::Result<Vec<T>>
where
    L: Loader<K, Value = Vec<T>, Error = async_graphql::Error>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Send + Sync + Clone + 'static,
{
    Ok(loader.load_one(key).await?.unwrap_or_default())
}

/// [`list_of`], each item wrapped in its GraphQL node type.
pub async fn load_list<L, K, T, N>(
    loader: &DataLoader<L>,
    key: K,
    node: impl Fn(T) -> N,
) -> async_graphql::Result<Vec<N>>
where
    L: Loader<K, Value = Vec<T>, Error = async_graphql::Error>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Send + Sync + Clone + 'static,
{
    Ok(list_of(loader, key).await?.into_iter().map(node).collect())
}
