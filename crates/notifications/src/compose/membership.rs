//! Messages about membership: a renewal opened for next year, and the reminder before its
//! notice date, both to the school's leaders — who are the ones who answer it.

use std::collections::HashMap;

use kernel::outbox::EventKind;
use kernel::{DomainError, MembershipId, Role, SchoolId};
use membership::memberships::Membership;
use serde::Serialize;
use uuid::Uuid;

use super::{Event, MessageSettings, draft, each_event};
use crate::format;
use crate::model::{Category, Draft, Recipient};

#[derive(Debug, Serialize)]
struct Renewal {
    school: String,
    year: String,
    tier: String,
    starts: String,
    notice_by: String,
    days_left: i64,
}

/// What every renewal message needs besides the membership: names and who leads each school.
struct Facts {
    schools: HashMap<SchoolId, String>,
    tiers: HashMap<kernel::TierId, String>,
    leaders: HashMap<SchoolId, Vec<membership::people::User>>,
}

async fn load<C: sea_orm::ConnectionTrait>(
    db: &C,
    renewals: &[&Membership],
) -> Result<Facts, DomainError> {
    let school_ids: Vec<SchoolId> = renewals.iter().map(|m| m.school_id).collect();
    let tier_ids: Vec<_> = renewals.iter().map(|m| m.tier_id).collect();
    Ok(Facts {
        schools: membership::school::names_by_ids(db, &school_ids).await?,
        tiers: membership::memberships::tiers_by_ids(db, &tier_ids)
            .await?
            .into_iter()
            .map(|(id, tier)| (id, tier.name))
            .collect(),
        leaders: membership::people::users::active_with_role_at(
            db,
            Role::SchoolLeader,
            &school_ids,
        )
        .await?,
    })
}

/// One draft per leader of the renewal's school.
fn drafts(
    settings: &MessageSettings,
    facts: &Facts,
    renewal: &Membership,
    today: chrono::NaiveDate,
    reminder: bool,
) -> Result<Vec<Draft>, DomainError> {
    let Some(notice_by) = renewal.notice_by else {
        return Ok(Vec::new());
    };
    let school = facts
        .schools
        .get(&renewal.school_id)
        .cloned()
        .unwrap_or_default();
    let view = Renewal {
        year: renewal.year.to_string(),
        tier: facts
            .tiers
            .get(&renewal.tier_id)
            .cloned()
            .unwrap_or_default(),
        starts: format::day(renewal.starts_on),
        notice_by: format::day(notice_by),
        days_left: (notice_by - today).num_days(),
        school,
    };
    let (subject, template) = if reminder {
        (
            format!(
                "Reminder: renew {}'s membership for {} by {}",
                view.school, view.year, view.notice_by
            ),
            "renewal_reminder",
        )
    } else {
        (
            format!(
                "Renew {}'s membership of {} for {}",
                view.school, settings.partnership, view.year
            ),
            "renewal_opened",
        )
    };
    facts
        .leaders
        .get(&renewal.school_id)
        .into_iter()
        .flatten()
        .map(|leader| {
            let mut d = draft(
                settings,
                EventKind::RenewalOpened,
                Category::Memberships,
                Some(renewal.school_id),
                Recipient {
                    email: leader.email.clone(),
                    name: leader.name.clone(),
                    user_id: Some(leader.id),
                },
                subject.clone(),
                template,
                &view,
            )?;
            if reminder {
                d.kind = "membership.renewal_reminder";
            }
            Ok(d)
        })
        .collect()
}

pub(super) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
    today: chrono::NaiveDate,
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<MembershipId> = events
        .iter()
        .map(|e| MembershipId::from_uuid(e.subject))
        .collect();
    let renewals = membership::memberships::by_ids(db, &ids).await?;
    let facts = load(db, &renewals.values().collect::<Vec<_>>()).await?;
    each_event(events, "membership", |event| {
        renewals
            .get(&MembershipId::from_uuid(event.subject))
            .map(|renewal| drafts(settings, &facts, renewal, today, false))
            .transpose()
    })
}

/// The reminders for renewals still unanswered, keyed so that each renewal has one reminder
/// per notice date: `(dedupe key, draft)`.
pub(crate) async fn reminders<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    renewals: &[Membership],
    today: chrono::NaiveDate,
) -> Result<Vec<(String, Draft)>, DomainError> {
    let facts = load(db, &renewals.iter().collect::<Vec<_>>()).await?;
    let mut out = Vec::new();
    for renewal in renewals {
        let key = format!(
            "renewal-reminder:{}:{}",
            renewal.id,
            renewal.notice_by.map(|d| d.to_string()).unwrap_or_default()
        );
        for d in drafts(settings, &facts, renewal, today, true)? {
            out.push((key.clone(), d));
        }
    }
    Ok(out)
}
