//! Schools from the DfE's register, "Get Information About Schools" (GIAS).
//!
//! The all-establishments extract (`edubasealldataYYYYMMDD.csv`) has about 50,000 rows and
//! 300 columns in Windows-1252. The columns read, by header name:
//!
//! | GIAS column | Trellis |
//! | --- | --- |
//! | `URN` | the school's key: upserted by URN |
//! | `EstablishmentName` | name |
//! | `TypeOfEstablishment (name)` | establishment type; types Trellis does not list (universities, Welsh and overseas establishments, secure units…) are skipped and counted |
//! | `PhaseOfEducation (name)` (+ `StatutoryLowAge`/`StatutoryHighAge` when present) | phase: a primary up to age 7 is an infant school, from 7 a junior; special and alternative-provision types are SPECIAL and PRU whatever their phase |
//! | `LA (name)` | local authority |
//! | `Postcode` | postcode (required for a school that is not closed) |
//! | `NumberOfPupils` with `CensusDate` | the roll at that census (GIAS gives the January census); kept in the roll history, and the current roll when it is the newest |
//! | `OfficialSixthForm (name)` | has a sixth form (secondary, all-through and special schools only) |
//! | `OpenDate` (when present) | the day it opened, which makes a school new for fee rules (`newSchool`); a blank date keeps the one on record |
//! | `EstablishmentStatus (name)` (+ `CloseDate`) | status: a school that closes is flagged CLOSED, never deleted; a closed establishment not in the directory is skipped |
//! | `Trusts (name)` | membership of the MAT partnership of that name (created when missing); a school leaves the MAT it was in when GIAS says it moved |
//! | `OfstedRating (name)` with `OfstedLastInsp` | an EIF 2019 graded inspection (Serious Weaknesses and Special Measures are Inadequate), recorded once per date; inspections from 10 November 2025 carry report cards, which GIAS does not give, and ratings GIAS words otherwise ("Not judged") are not recorded |

use std::collections::{HashMap, HashSet};
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{Actor, BeginWrite as _, Clock, DomainError, ErrorCode, Permission, SchoolId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, Set,
    TransactionTrait,
};

use school_register::file::ProblemList;
use school_register::gias::{COLUMNS, Item, Row, Scope, TRUST, read};

use super::{LineProblem, Message, Progress, spawn_reader};
use crate::partnership::entity::{members, partnerships};
use crate::partnership::types::{MemberRole, PartnershipKind};
use crate::school::entity::{inspections, schools};
use crate::school::inspection::OverallGrade;
use crate::school::types::{Roll, RollSource, SchoolStatus, Urn};
use crate::school::{record_rolls, roll_columns};

/// Changes listed in a report at most; the counts cover them all.
pub const MAX_LISTED: usize = 1_000;

/// Which establishments of the file to import. Empty means all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GiasFilter {
    /// Local authority names (`LA (name)`), matched ignoring case.
    pub local_authorities: Vec<String>,
    /// URNs to import.
    pub urns: Vec<String>,
}

/// What an import did, or (dry run) would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GiasReport {
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows_read: u64,
    /// Rows the filter selected (schools and the establishments skipped below).
    pub selected: u64,
    pub created: u64,
    pub updated: u64,
    /// Of the updated, those now closed (flagged, kept).
    pub closed: u64,
    pub unchanged: u64,
    /// Establishments of types Trellis does not list (see the module's table).
    pub skipped_not_schools: u64,
    /// Closed establishments that are not in the directory.
    pub skipped_closed: u64,
    /// URNs the filter asked for that the file does not have.
    pub urns_not_in_file: Vec<String>,
    /// MAT partnerships made for trusts not yet in the directory.
    pub trusts_created: Vec<String>,
    /// Schools that joined or left a MAT.
    pub trust_moves: u64,
    /// Rolls added to the schools' histories (a roll equal to the current one is there).
    pub rolls_recorded: u64,
    pub inspections_recorded: u64,
    /// The first [`MAX_LISTED`] schools created, changed or closed, in file order.
    pub changes: Vec<SchoolChange>,
    /// Changes beyond those listed.
    pub changes_not_listed: u64,
}

/// One school the import creates or changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolChange {
    pub urn: String,
    pub name: String,
    pub kind: ChangeKind,
    /// Each field that changes; for a new school, each field it is created with.
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    /// Updated, and the register now says it is closed.
    Closed,
}

/// A field's value before and after, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Imports the establishments of a GIAS extract that `filter` selects. Partnership admins
/// only. All or nothing: any problem (reported per line and column) writes nothing.
pub async fn import(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    source: impl Read + Send + 'static,
    filter: GiasFilter,
    dry_run: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<GiasReport, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut wanted_urns = HashSet::new();
    let mut bad = kernel::Problems::new();
    for urn in &filter.urns {
        match Urn::parse(urn) {
            Ok(urn) => {
                wanted_urns.insert(urn);
            }
            Err(_) => bad.add(
                "urns",
                ErrorCode::Invalid,
                format!("{urn:?} is not a URN (six digits)"),
            ),
        }
    }
    bad.finish()?;
    let scope = Scope {
        local_authorities: filter
            .local_authorities
            .iter()
            .map(|la| la.trim().to_lowercase())
            .filter(|la| !la.is_empty())
            .collect(),
        urns: wanted_urns.clone(),
    };
    let today = clock.today();
    let mut rx = spawn_reader(source, move |reader, tx| read(reader, tx, &scope, today));

    let txn = if dry_run {
        db.begin().await?
    } else {
        db.begin_write().await?
    };
    let mut problems = ProblemList::default();
    let mut report = GiasReport {
        dry_run,
        ..GiasReport::default()
    };
    let mut writer = Writer {
        txn: &txn,
        now: clock.now(),
        dry_run,
        trusts: HashMap::new(),
        seen_urns: HashSet::new(),
    };
    while let Some(message) = rx.recv().await {
        match message {
            Message::Problem(p) => problems.push(p),
            Message::Rows(items, at) => {
                report.rows_read = at.rows_read;
                report.selected += items.len() as u64;
                let mut rows = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Item::Row(row) => rows.push(*row),
                        Item::NotASchool => report.skipped_not_schools += 1,
                    }
                }
                for row in &rows {
                    writer.seen_urns.insert(row.urn.clone());
                }
                // Once anything is wrong nothing is written, but every batch is still
                // checked against the directory for the other problems.
                writer.batch(rows, &mut report, &mut problems).await?;
                progress(at);
            }
        }
    }
    problems.finish()?;
    let mut missing: Vec<String> = wanted_urns
        .difference(&writer.seen_urns)
        .map(ToString::to_string)
        .collect();
    missing.sort();
    report.urns_not_in_file = missing;
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
        tracing::info!(
            created = report.created,
            updated = report.updated,
            closed = report.closed,
            "GIAS import applied"
        );
    }
    Ok(report)
}

/// A stored school's current roll.
pub(crate) fn current_roll(school: &schools::Model) -> Option<Roll> {
    Some(Roll {
        number_on_roll: u32::try_from(school.number_on_roll?).ok()?,
        census: school.roll_census.as_deref()?.parse().ok()?,
        census_date: school.roll_census_date?,
    })
}

/// The database side: one batch at a time, inside the import's transaction.
struct Writer<'a> {
    txn: &'a DatabaseTransaction,
    now: DateTime<Utc>,
    dry_run: bool,
    /// MAT partnerships by name, known or (dry run) to be created.
    trusts: HashMap<String, uuid::Uuid>,
    seen_urns: HashSet<Urn>,
}

impl Writer<'_> {
    async fn batch(
        &mut self,
        rows: Vec<Row>,
        report: &mut GiasReport,
        problems: &mut ProblemList,
    ) -> Result<(), DomainError> {
        if rows.is_empty() {
            return Ok(());
        }
        let txn = self.txn;
        let existing: HashMap<String, schools::Model> = schools::Entity::find()
            .filter(schools::Column::Urn.is_in(rows.iter().map(|r| r.urn.as_str())))
            .all(txn)
            .await?
            .into_iter()
            .map(|s| (s.urn.clone(), s))
            .collect();
        let existing_ids: Vec<uuid::Uuid> = existing.values().map(|s| s.id).collect();
        // Each existing school's current MAT (a school is in one trust at most).
        let mut current_mat: HashMap<uuid::Uuid, (uuid::Uuid, String)> = HashMap::new();
        if !existing_ids.is_empty() {
            let rows = members::Entity::find()
                .find_also_related(partnerships::Entity)
                .filter(members::Column::SchoolId.is_in(existing_ids.iter().copied()))
                .filter(partnerships::Column::Kind.eq(PartnershipKind::MultiAcademyTrust.as_str()))
                .all(txn)
                .await?;
            for (member, partnership) in rows {
                if let Some(p) = partnership {
                    current_mat.insert(member.school_id, (p.id, p.name));
                }
            }
        }
        self.resolve_trusts(&rows, report, problems).await?;

        let mut upserts = Vec::new();
        let mut rolls = Vec::new();
        let mut mat_leavers = Vec::new();
        let mut mat_joiners = Vec::new();
        let mut inspected = Vec::new();
        for row in &rows {
            let before = existing.get(row.urn.as_str());
            if before.is_none() && row.status == SchoolStatus::Closed {
                report.skipped_closed += 1;
                continue;
            }
            let id = before.map_or_else(|| SchoolId::new().as_uuid(), |s| s.id);
            let trust_before = current_mat.get(&id).map(|(_, name)| name.as_str());
            let (model, fields) = self.merge(row, before, id, trust_before);
            // The current roll is already in the history; a different one is recorded.
            if let Some(roll) = row.roll
                && before.and_then(current_roll) != Some(roll)
            {
                rolls.push((SchoolId::from_uuid(id), roll));
            }
            if trust_before != row.trust.as_deref() {
                if let Some((partnership, _)) = current_mat.get(&id) {
                    mat_leavers.push((*partnership, id));
                }
                if let Some(trust) = &row.trust {
                    mat_joiners.push((self.trusts[trust], id));
                }
                report.trust_moves += 1;
            }
            if let Some(inspection) = row.inspection {
                inspected.push((id, inspection));
            }
            let kind = match before {
                None => ChangeKind::Created,
                Some(_) if fields.is_empty() => {
                    report.unchanged += 1;
                    continue;
                }
                Some(b)
                    if row.status == SchoolStatus::Closed && b.status != row.status.as_str() =>
                {
                    ChangeKind::Closed
                }
                Some(_) => ChangeKind::Updated,
            };
            match kind {
                ChangeKind::Created => report.created += 1,
                ChangeKind::Updated => report.updated += 1,
                ChangeKind::Closed => {
                    report.updated += 1;
                    report.closed += 1;
                }
            }
            if report.changes.len() < MAX_LISTED {
                report.changes.push(SchoolChange {
                    urn: row.urn.to_string(),
                    name: row.name.clone(),
                    kind,
                    fields,
                });
            } else {
                report.changes_not_listed += 1;
            }
            upserts.push(model);
        }
        let inspections = self.new_inspections(&inspected).await?;
        report.rolls_recorded += rolls.len() as u64;
        report.inspections_recorded += inspections.len() as u64;
        if self.dry_run || !problems.is_empty() {
            return Ok(());
        }

        if !upserts.is_empty() {
            schools::Entity::insert_many(upserts)
                .on_conflict(
                    OnConflict::column(schools::Column::Urn)
                        .update_columns([
                            schools::Column::Name,
                            schools::Column::Phase,
                            schools::Column::EstablishmentType,
                            schools::Column::LocalAuthority,
                            schools::Column::Postcode,
                            schools::Column::NumberOnRoll,
                            schools::Column::RollCensus,
                            schools::Column::RollCensusDate,
                            schools::Column::HasSixthForm,
                            schools::Column::Status,
                            schools::Column::ClosedOn,
                            schools::Column::OpenedOn,
                            schools::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        record_rolls(txn, &rolls, RollSource::Gias, self.now).await?;
        if !mat_leavers.is_empty() {
            // One statement: (partnership, school) pairs as an OR of ANDs.
            let mut cond = sea_orm::Condition::any();
            for (partnership, school) in &mat_leavers {
                cond = cond.add(
                    sea_orm::Condition::all()
                        .add(members::Column::PartnershipId.eq(*partnership))
                        .add(members::Column::SchoolId.eq(*school)),
                );
            }
            members::Entity::delete_many()
                .filter(cond)
                .exec(txn)
                .await?;
        }
        if !mat_joiners.is_empty() {
            members::Entity::insert_many(mat_joiners.iter().map(|(partnership, school)| {
                members::ActiveModel {
                    partnership_id: Set(*partnership),
                    school_id: Set(*school),
                    role: Set(MemberRole::Member.as_str().to_owned()),
                    joined_on: Set(None),
                }
            }))
            .on_conflict(
                OnConflict::columns([members::Column::PartnershipId, members::Column::SchoolId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        }
        if !inspections.is_empty() {
            inspections::Entity::insert_many(inspections)
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }

    /// The row as it will be stored, and the fields that differ from `before`.
    fn merge(
        &self,
        row: &Row,
        before: Option<&schools::Model>,
        id: uuid::Uuid,
        trust_before: Option<&str>,
    ) -> (schools::ActiveModel, Vec<FieldChange>) {
        let mut fields = Vec::new();
        let mut diff = |field: &'static str, old: Option<String>, new: Option<String>| {
            if old != new {
                fields.push(FieldChange {
                    field,
                    before: old,
                    after: new,
                });
            }
        };
        let old = |f: fn(&schools::Model) -> String| before.map(f);
        let postcode = row
            .postcode
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .or_else(|| before.map(|b| b.postcode.clone()))
            .unwrap_or_default();
        // The current roll is the newest census; an older one only joins the history.
        let current_roll_date = before.and_then(|b| b.roll_census_date);
        let roll = match row.roll {
            Some(r) if current_roll_date.is_none_or(|d| r.census_date >= d) => Some(r),
            _ => before.and_then(current_roll),
        };
        let roll_text = |r: Option<Roll>| {
            r.map(|r| {
                format!(
                    "{} ({} census {})",
                    r.number_on_roll, r.census, r.census_date
                )
            })
        };
        let before_roll = before.and_then(current_roll);
        diff("name", old(|b| b.name.clone()), Some(row.name.clone()));
        diff(
            "phase",
            old(|b| b.phase.clone()),
            Some(row.phase.as_str().to_owned()),
        );
        diff(
            "establishmentType",
            old(|b| b.establishment_type.clone()),
            Some(row.establishment_type.as_str().to_owned()),
        );
        diff(
            "localAuthority",
            old(|b| b.local_authority.clone()),
            Some(row.local_authority.clone()),
        );
        diff(
            "postcode",
            old(|b| b.postcode.clone()),
            Some(postcode.clone()),
        );
        diff("roll", roll_text(before_roll), roll_text(roll));
        diff(
            "hasSixthForm",
            old(|b| b.has_sixth_form.to_string()),
            Some(row.has_sixth_form.to_string()),
        );
        diff(
            "status",
            old(|b| b.status.clone()),
            Some(row.status.as_str().to_owned()),
        );
        diff(
            "closedOn",
            before.and_then(|b| b.closed_on.map(|d| d.to_string())),
            row.closed_on.map(|d| d.to_string()),
        );
        let opened_on = row.opened_on.or_else(|| before.and_then(|b| b.opened_on));
        diff(
            "openedOn",
            before.and_then(|b| b.opened_on.map(|d| d.to_string())),
            opened_on.map(|d| d.to_string()),
        );
        diff("trust", trust_before.map(str::to_owned), row.trust.clone());
        let (number_on_roll, roll_census, roll_census_date) = roll_columns(roll);
        let model = schools::ActiveModel {
            id: Set(id),
            urn: Set(row.urn.as_str().to_owned()),
            name: Set(row.name.clone()),
            phase: Set(row.phase.as_str().to_owned()),
            establishment_type: Set(row.establishment_type.as_str().to_owned()),
            local_authority: Set(row.local_authority.clone()),
            postcode: Set(postcode),
            number_on_roll: Set(number_on_roll),
            roll_census: Set(roll_census),
            roll_census_date: Set(roll_census_date),
            is_demo: Set(before.is_some_and(|b| b.is_demo)),
            has_sixth_form: Set(row.has_sixth_form),
            status: Set(row.status.as_str().to_owned()),
            closed_on: Set(row.closed_on),
            opened_on: Set(opened_on),
            created_at: Set(before.map_or(self.now, |b| b.created_at)),
            updated_at: Set(self.now),
        };
        (model, fields)
    }

    /// Finds or (unless a dry run) creates the MAT partnership of every trust in `rows`. A
    /// partnership of that name that is not a MAT is a problem on the row that names it.
    async fn resolve_trusts(
        &mut self,
        rows: &[Row],
        report: &mut GiasReport,
        problems: &mut ProblemList,
    ) -> Result<(), DomainError> {
        let mut unknown: Vec<(&str, &Row)> = Vec::new();
        let mut asked = HashSet::new();
        for row in rows {
            if let Some(t) = row.trust.as_deref()
                && !self.trusts.contains_key(t)
                && asked.insert(t)
            {
                unknown.push((t, row));
            }
        }
        if unknown.is_empty() {
            return Ok(());
        }
        let found = partnerships::Entity::find()
            .filter(partnerships::Column::Name.is_in(unknown.iter().map(|(t, _)| *t)))
            .all(self.txn)
            .await?;
        let found: HashMap<&str, &partnerships::Model> =
            found.iter().map(|p| (p.name.as_str(), p)).collect();
        let mut new = Vec::new();
        for (trust, row) in unknown {
            match found.get(trust) {
                Some(p) if p.kind == PartnershipKind::MultiAcademyTrust.as_str() => {
                    self.trusts.insert(trust.to_owned(), p.id);
                }
                Some(p) => problems.push(LineProblem::new(
                    row.line,
                    Some(COLUMNS[TRUST]),
                    ErrorCode::Conflict,
                    format!(
                        "the partnership {trust:?} is in the directory as {}, not as a MAT; rename it or change its kind",
                        p.kind
                    ),
                )),
                None => {
                    let id = kernel::PartnershipId::new().as_uuid();
                    self.trusts.insert(trust.to_owned(), id);
                    report.trusts_created.push(trust.to_owned());
                    new.push(partnerships::ActiveModel {
                        id: Set(id),
                        name: Set(trust.to_owned()),
                        kind: Set(PartnershipKind::MultiAcademyTrust.as_str().to_owned()),
                        area: Set(row.local_authority.clone()),
                        description: Set(
                            "Multi-academy trust, from the DfE register (GIAS).".to_owned()
                        ),
                        created_at: Set(self.now),
                        updated_at: Set(self.now),
                    });
                }
            }
        }
        if !new.is_empty() && !self.dry_run && problems.is_empty() {
            partnerships::Entity::insert_many(new)
                .exec_without_returning(self.txn)
                .await?;
        }
        Ok(())
    }

    /// Graded inspections not yet recorded for their school and date (one statement).
    async fn new_inspections(
        &self,
        list: &[(uuid::Uuid, (NaiveDate, OverallGrade))],
    ) -> Result<Vec<inspections::ActiveModel>, DomainError> {
        if list.is_empty() {
            return Ok(Vec::new());
        }
        let recorded: HashSet<(uuid::Uuid, NaiveDate)> = inspections::Entity::find()
            .filter(inspections::Column::SchoolId.is_in(list.iter().map(|(id, _)| *id)))
            .filter(inspections::Column::InspectedOn.is_in(list.iter().map(|(_, (d, _))| *d)))
            .all(self.txn)
            .await?
            .into_iter()
            .map(|i| (i.school_id, i.inspected_on))
            .collect();
        Ok(list
            .iter()
            .filter(|(id, (date, _))| !recorded.contains(&(*id, *date)))
            .map(|(id, (date, grade))| inspections::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                school_id: Set(*id),
                framework: Set(crate::school::inspection::Framework::Eif2019
                    .as_str()
                    .to_owned()),
                inspected_on: Set(*date),
                overall_grade: Set(Some(grade.as_str().to_owned())),
                report_card: Set(None),
                created_at: Set(self.now),
            })
            .collect())
    }
}
