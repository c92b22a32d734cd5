//! The demo partnership's 2026/27 core offer, on top of the membership demo
//! (`membership::demo::seed`): seven items in the style of HEP's membership and a BPSI
//! support-hours allowance, quantities for the FULL and ASSOCIATE tiers, entitlements
//! derived for every active membership, and a term's worth of history — visits held, CPD
//! places booked and one cancelled, an adjustment, a cash-in and a draw-forward — on
//! Holly Park Primary School (whose head is `head@holly-park.example`) and a few others, so
//! the portal's dashboard query shows something true.
//!
//! Everything goes through the public services, as the demo admin where a person would have
//! recorded it, so the demo obeys every rule real data does.

use std::fmt;

use chrono::NaiveDate;
use kernel::{AcademicYear, Actor, Clock, DomainError, Money, OfferItemId, SchoolId, TierId};
use membership::memberships::{self, Membership};
use membership::people::{Lookup, users};
use membership::school::types::Phase;
use sea_orm::DatabaseConnection;

use crate::derive::derive_entitlements;
use crate::entries::LedgerEntry;
use crate::items::{self, NewOfferItem, Unit};
use crate::movements::{
    NewAdjustment, NewTransfer, NewUsage, adjust, cash_in, draw_forward, record_usage,
    reverse_usage,
};
use crate::quantities::{Allowance, QuantitySetting, set_quantity};

/// The year the demo offer is for (the membership demo's year).
pub const DEMO_YEAR: i32 = membership::demo::DEMO_YEAR;
/// The school whose portal shows the richest history.
pub const DEMO_SCHOOL_USER: &str = "head@holly-park.example";
/// Who records usage in the demo.
const DEMO_ADMIN: &str = "admin@trellis.example";

/// What seeding the demo offer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfferSeedReport {
    pub items: usize,
    pub quantities: usize,
    pub entitlements: usize,
    pub entries: usize,
    /// Offer items existed already (real or earlier demo data), or the demo tiers are
    /// missing: nothing was loaded.
    pub skipped: bool,
}

impl fmt::Display for OfferSeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            write!(
                f,
                "demo core offer not loaded: offer items exist already, or no demo tiers"
            )
        } else {
            write!(
                f,
                "core offer: {} items, {} quantities, {} entitlements, {} history entries",
                self.items, self.quantities, self.entitlements, self.entries
            )
        }
    }
}

/// One demo item and its quantities: (FULL every phase, FULL per phase, ASSOCIATE every
/// phase, ASSOCIATE per phase). `None` leaves the item out of that tier's offer.
struct DemoItem {
    new: NewOfferItem,
    full: Option<Allowance>,
    full_phases: &'static [(Phase, i64)],
    associate: Option<Allowance>,
    associate_phases: &'static [(Phase, i64)],
}

#[allow(clippy::too_many_arguments)]
fn item(
    code: &str,
    name: &str,
    description: &str,
    unit: Unit,
    unit_value_pence: i64,
    pro_rata: bool,
    allows_overdraft: bool,
    cash_in_limit: Option<i64>,
    draw_forward_percent: Option<i32>,
) -> NewOfferItem {
    NewOfferItem {
        code: code.into(),
        name: name.into(),
        description: description.into(),
        unit,
        unit_value: Money::from_pence(unit_value_pence),
        pro_rata,
        allows_overdraft,
        cash_in_limit,
        draw_forward_percent,
    }
}

fn catalogue() -> Vec<DemoItem> {
    use Allowance::{Limited, Unlimited};
    vec![
        DemoItem {
            new: item(
                "SIP_DAYS",
                "School improvement partner days",
                "Days with the school's improvement partner: the autumn data conversation, \
                 a spring visit on the school's priorities and the summer review. Secondaries \
                 and all-through schools get more, infant and nursery schools fewer.",
                Unit::Days,
                65_000,
                true,
                false,
                None,
                None,
            ),
            full: Some(Limited(4)),
            full_phases: &[
                (Phase::Nursery, 3),
                (Phase::Infant, 3),
                (Phase::Secondary, 6),
                (Phase::AllThrough, 6),
            ],
            associate: Some(Limited(1)),
            associate_phases: &[(Phase::Secondary, 2)],
        },
        DemoItem {
            new: item(
                "CPD_PLACES",
                "CPD course places",
                "Places on the partnership's CPD programme (subject leadership, early \
                 career teachers, SENCo network training), booked for named staff.",
                Unit::Places,
                14_500,
                true,
                false,
                None,
                None,
            ),
            full: Some(Limited(10)),
            full_phases: &[(Phase::Secondary, 16), (Phase::AllThrough, 16)],
            associate: Some(Limited(4)),
            associate_phases: &[],
        },
        DemoItem {
            new: item(
                "HEAD_BRIEFINGS",
                "Headteacher briefings",
                "The termly headteachers' briefing and the summer conference: as many \
                 places for the school's leaders as it wants.",
                Unit::Places,
                9_500,
                false,
                false,
                None,
                None,
            ),
            full: Some(Unlimited),
            full_phases: &[],
            associate: Some(Unlimited),
            associate_phases: &[],
        },
        DemoItem {
            new: item(
                "DATA_PACKS",
                "Data packs",
                "The school's performance data pack, benchmarked against the partnership \
                 and the local authority: one a term.",
                Unit::Items,
                35_000,
                false,
                false,
                None,
                None,
            ),
            full: Some(Limited(3)),
            full_phases: &[],
            associate: Some(Limited(1)),
            associate_phases: &[],
        },
        DemoItem {
            new: item(
                "NETWORK_MEETINGS",
                "Network learning community meetings",
                "Places at the subject and phase network meetings. Extra places are \
                 welcome: the allowance may be overdrawn.",
                Unit::Places,
                6_000,
                false,
                true,
                None,
                None,
            ),
            full: Some(Limited(9)),
            full_phases: &[],
            associate: Some(Limited(6)),
            associate_phases: &[],
        },
        DemoItem {
            new: item(
                "SAFEGUARDING_AUDIT",
                "Safeguarding audit",
                "A full safeguarding audit by a partnership adviser with a written report \
                 for governors.",
                Unit::Items,
                85_000,
                false,
                false,
                None,
                None,
            ),
            full: Some(Limited(1)),
            full_phases: &[],
            associate: None,
            associate_phases: &[],
        },
        DemoItem {
            new: item(
                "BPSI_HOURS",
                "BPSI support hours",
                "Bespoke school-improvement support hours. Up to 10 unused hours a year may \
                 be cashed in toward an external consultant, and up to a quarter of next \
                 year's hours drawn forward.",
                Unit::Hours,
                8_500,
                true,
                false,
                Some(10),
                Some(25),
            ),
            full: Some(Limited(20)),
            full_phases: &[(Phase::Secondary, 30), (Phase::AllThrough, 30)],
            associate: Some(Limited(10)),
            associate_phases: &[],
        },
    ]
}

#[derive(Debug, thiserror::Error)]
#[error("demo offer data is inconsistent: {0}")]
struct BadDemoOffer(&'static str);

/// Loads the demo core offer. Does nothing when any offer item exists, so it never mixes
/// with real data, or when the membership demo's tiers are missing.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<OfferSeedReport, DomainError> {
    let system = Actor::System;
    let skipped = OfferSeedReport {
        skipped: true,
        ..OfferSeedReport::default()
    };
    if !items::items(db, &system, true).await?.is_empty() {
        return Ok(skipped);
    }
    let (Some(full), Some(associate)) = (
        memberships::tier_by_code(db, "FULL").await?,
        memberships::tier_by_code(db, "ASSOCIATE").await?,
    ) else {
        return Ok(skipped);
    };
    let year = AcademicYear::starting(DEMO_YEAR)
        .map_err(|_| DomainError::internal(BadDemoOffer("year")))?;
    let (items, quantities, ids) = open_catalogue(db, clock, year, full.id, associate.id).await?;
    let mut report = OfferSeedReport {
        items,
        quantities,
        ..OfferSeedReport::default()
    };
    let derived = derive_entitlements(db, &system, clock, year).await?;
    report.entitlements = derived.entitlements_created;
    report.entries = history(db, clock, year, &ids).await?;
    Ok(report)
}

/// Creates the demo's items with their allowances for `year` under the FULL and ASSOCIATE
/// tiers, through the services: (items, quantities set, the items' ids by code). The demo
/// and the synthetic national offer (`crate::synthetic`) share it.
pub(crate) async fn open_catalogue(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    full: TierId,
    associate: TierId,
) -> Result<(usize, usize, std::collections::HashMap<String, OfferItemId>), DomainError> {
    let system = Actor::System;
    let (mut made, mut quantities) = (0, 0);
    let mut ids = std::collections::HashMap::new();
    for demo in catalogue() {
        let code = demo.new.code.clone();
        let created = items::create_item(db, &system, clock, demo.new).await?;
        made += 1;
        let mut settings: Vec<(TierId, Option<Phase>, Allowance)> = Vec::new();
        for (tier, every, phases) in [
            (full, demo.full, demo.full_phases),
            (associate, demo.associate, demo.associate_phases),
        ] {
            if let Some(every) = every {
                settings.push((tier, None, every));
            }
            settings.extend(
                phases
                    .iter()
                    .map(|&(phase, q)| (tier, Some(phase), Allowance::Limited(q))),
            );
        }
        for (tier_id, phase, allowance) in settings {
            set_quantity(
                db,
                &system,
                clock,
                QuantitySetting {
                    item_id: created.id,
                    year,
                    tier_id,
                    phase,
                    allowance,
                },
            )
            .await?;
            quantities += 1;
        }
        ids.insert(code, created.id);
    }
    Ok((made, quantities, ids))
}

/// The admin who records usage, as an actor (Trellis itself when the demo has no admin).
async fn recorder(db: &DatabaseConnection) -> Result<Actor, DomainError> {
    Ok(users::actor_for(db, Lookup::Email(DEMO_ADMIN))
        .await?
        .map_or(Actor::System, Actor::User))
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate, DomainError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| DomainError::internal(BadDemoOffer("date")))
}

/// Usage, a reversal, an adjustment, a cash-in and a draw-forward on Holly Park, and a few
/// usages on other schools with active memberships.
async fn history(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    ids: &std::collections::HashMap<String, OfferItemId>,
) -> Result<usize, DomainError> {
    let admin = recorder(db).await?;
    let id = |code: &str| {
        ids.get(code)
            .copied()
            .ok_or_else(|| DomainError::internal(BadDemoOffer("item code")))
    };
    let y = year.start_year();
    let mut written = 0;
    let holly_park: Option<SchoolId> = users::actor_for(db, Lookup::Email(DEMO_SCHOOL_USER))
        .await?
        .and_then(|u| u.schools.first().copied());
    let use_ = |school: SchoolId,
                code: &'static str,
                quantity: i64,
                on: NaiveDate,
                reference: &'static str,
                reason: &'static str| {
        let admin = &admin;
        async move {
            record_usage(
                db,
                admin,
                clock,
                NewUsage {
                    school_id: school,
                    item_id: id(code)?,
                    quantity,
                    occurred_on: on,
                    reference: Some(reference.to_owned()),
                    reason: Some(reason.to_owned()),
                },
            )
            .await
        }
    };

    if let Some(school) = holly_park {
        let visits: [(&str, i64, NaiveDate, &str, &str); 7] = [
            (
                "SIP_DAYS",
                1,
                date(y, 10, 8)?,
                "SIP-2026-HP-1",
                "Autumn data conversation with the school improvement partner",
            ),
            (
                "DATA_PACKS",
                1,
                date(y, 10, 20)?,
                "DATA-2026-AUT",
                "Autumn data pack: KS2 2026 results benchmarked",
            ),
            (
                "HEAD_BRIEFINGS",
                2,
                date(y, 9, 24)?,
                "BRIEF-2026-AUT",
                "Autumn headteachers' briefing: head and deputy",
            ),
            (
                "NETWORK_MEETINGS",
                3,
                date(y, 11, 5)?,
                "NLC-ENGLISH-AUT",
                "English, maths and early years network meetings",
            ),
            (
                "BPSI_HOURS",
                6,
                date(y, 11, 12)?,
                "BPSI-HP-WRITING",
                "Writing moderation support for Year 6",
            ),
            (
                "CPD_PLACES",
                2,
                date(y, 11, 18)?,
                "CPD-SUBJECT-LEADS",
                "Subject leadership programme: two middle leaders",
            ),
            (
                "SAFEGUARDING_AUDIT",
                1,
                date(y + 1, 2, 10)?,
                "SG-AUDIT-HP",
                "Safeguarding audit booked for the spring term",
            ),
        ];
        for (code, quantity, on, reference, reason) in visits {
            use_(school, code, quantity, on, reference, reason).await?;
            written += 1;
        }
        let cancelled: LedgerEntry = use_(
            school,
            "CPD_PLACES",
            1,
            date(y, 12, 3)?,
            "CPD-ECT-WORKSHOP",
            "Early career teacher workshop",
        )
        .await?;
        reverse_usage(
            db,
            &admin,
            clock,
            cancelled.id,
            Some("Course cancelled by the provider; the place is returned".into()),
        )
        .await?;
        written += 2;
        adjust(
            db,
            &admin,
            clock,
            NewAdjustment {
                school_id: school,
                item_id: id("CPD_PLACES")?,
                year,
                quantity: 1,
                reason: "Goodwill place: the school hosted the spring SENCo network".into(),
            },
        )
        .await?;
        cash_in(
            db,
            &admin,
            clock,
            NewTransfer {
                school_id: school,
                item_id: id("BPSI_HOURS")?,
                year,
                quantity: 4,
                reference: Some("EXT-CONSULT-0412".into()),
                reason: Some("Toward an external maths consultant for the spring term".into()),
            },
        )
        .await?;
        draw_forward(
            db,
            &admin,
            clock,
            NewTransfer {
                school_id: school,
                item_id: id("BPSI_HOURS")?,
                year,
                quantity: 3,
                reference: None,
                reason: Some("Extra writing support ahead of the summer moderation".into()),
            },
        )
        .await?;
        written += 3;
    }

    // A few other schools: their partner's first visit and a data pack.
    let others: Vec<Membership> = memberships::active_for_year(db, year)
        .await?
        .into_iter()
        .filter(|m| Some(m.school_id) != holly_park && !m.is_mid_year_joiner())
        .take(4)
        .collect();
    for (i, m) in others.iter().enumerate() {
        let day = u32::try_from(i).unwrap_or(0) * 3 + 6;
        use_(
            m.school_id,
            "SIP_DAYS",
            1,
            date(y, 10, day)?,
            "SIP-2026-AUT",
            "Autumn data conversation with the school improvement partner",
        )
        .await?;
        use_(
            m.school_id,
            "DATA_PACKS",
            1,
            date(y, 10, 20)?,
            "DATA-2026-AUT",
            "Autumn data pack",
        )
        .await?;
        written += 2;
    }
    Ok(written)
}
