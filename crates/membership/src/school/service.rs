//! Reading and changing schools.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, Permission, Problems, SchoolId, like_contains,
    search_text,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::entity::{designations, inspections, rolls, schools};
use super::inspection::{Framework, Inspection, Outcome, ReportCard, report_cards_from};
use super::types::{
    Designation, EstablishmentType, Phase, Postcode, Roll, RollCensus, RollSource, SchoolStatus,
    Urn, opening_date,
};
use crate::keyset::{NameKey, Page, PageArgs, fetch_page};
use crate::validate::{is_unique_violation, required_text};

/// A school as the rest of Trellis sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    pub id: SchoolId,
    pub urn: Urn,
    pub name: String,
    pub phase: Phase,
    pub establishment_type: EstablishmentType,
    pub local_authority: String,
    pub postcode: Postcode,
    pub roll: Option<Roll>,
    /// Whether the school teaches post-16 pupils: fee schedules price these secondaries
    /// differently (Haringey caps them higher).
    pub has_sixth_form: bool,
    /// Invented demo data, not a real school's record.
    pub is_demo: bool,
    /// Open or closed, as the DfE's register says (the GIAS import keeps it).
    pub status: SchoolStatus,
    /// The day it closed, when the register gives one.
    pub closed_on: Option<NaiveDate>,
    /// The day it opened (GIAS `OpenDate`), when known: fee rules price new schools
    /// differently, and newness follows from this date.
    pub opened_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl School {
    /// The keyset sort key of the directory's default order.
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.name.clone(), self.id.as_uuid())
    }

    pub(crate) fn from_row(row: schools::Model) -> Result<Self, DomainError> {
        let corrupt =
            |what: &str| DomainError::internal(CorruptRow(format!("school {}: {what}", row.id)));
        let roll = match (
            row.number_on_roll,
            row.roll_census.as_deref(),
            row.roll_census_date,
        ) {
            (Some(n), Some(census), Some(date)) => Some(Roll {
                number_on_roll: u32::try_from(n).map_err(|_| corrupt("roll"))?,
                census: census.parse().map_err(|_| corrupt("census"))?,
                census_date: date,
            }),
            _ => None,
        };
        Ok(Self {
            id: SchoolId::from_uuid(row.id),
            urn: Urn::parse(&row.urn).map_err(|_| corrupt("urn"))?,
            phase: row.phase.parse().map_err(|_| corrupt("phase"))?,
            establishment_type: row
                .establishment_type
                .parse()
                .map_err(|_| corrupt("establishment type"))?,
            postcode: Postcode::parse(&row.postcode).map_err(|_| corrupt("postcode"))?,
            name: row.name,
            local_authority: row.local_authority,
            roll,
            has_sixth_form: row.has_sixth_form,
            is_demo: row.is_demo,
            status: row.status.parse().map_err(|_| corrupt("status"))?,
            closed_on: row.closed_on,
            opened_on: row.opened_on,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A stored row that this build cannot read back: written by hand or by a newer release.
#[derive(Debug, thiserror::Error)]
#[error("corrupt row: {0}")]
pub struct CorruptRow(pub String);

/// The number on roll as entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollInput {
    pub number_on_roll: i64,
    pub census: RollCensus,
    pub census_date: NaiveDate,
}

/// A new school for the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchool {
    pub urn: String,
    pub name: String,
    pub phase: Phase,
    pub establishment_type: EstablishmentType,
    pub local_authority: String,
    pub postcode: String,
    pub roll: Option<RollInput>,
    pub designations: Vec<Designation>,
    pub has_sixth_form: bool,
    /// The day it opened, when known (see [`School::opened_on`]).
    pub opened_on: Option<NaiveDate>,
    pub is_demo: bool,
}

/// Changes to a school; `None` leaves a field as it is. The URN cannot change: a school
/// that converts to an academy gets a new URN and is a new establishment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolChanges {
    pub name: Option<String>,
    pub phase: Option<Phase>,
    pub establishment_type: Option<EstablishmentType>,
    pub local_authority: Option<String>,
    pub postcode: Option<String>,
    /// `Some(None)` clears the roll.
    pub roll: Option<Option<RollInput>>,
    /// Replaces the whole set.
    pub designations: Option<Vec<Designation>>,
    pub has_sixth_form: Option<bool>,
    /// `Some(None)` forgets the opening date.
    pub opened_on: Option<Option<NaiveDate>>,
}

/// Narrows the directory listing. Empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolFilter {
    pub phases: Vec<Phase>,
    pub local_authority: Option<String>,
    pub designation: Option<Designation>,
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

const NAME_MAX: usize = 200;
const LA_MAX: usize = 100;

/// A sixth form only makes sense where a school teaches up to 16: a primary "with a sixth
/// form" is a data-entry slip that would silently raise its fee cap. A sixth-form college is
/// all sixth form and is priced by its phase instead.
fn check_sixth_form(problems: &mut Problems, phase: Phase, has_sixth_form: bool) {
    if has_sixth_form && !phase.may_have_sixth_form() {
        problems.add(
            "hasSixthForm",
            ErrorCode::Invalid,
            "only secondary, all-through and special schools have a sixth form",
        );
    }
}

fn validate_roll(
    problems: &mut Problems,
    roll: Option<RollInput>,
    today: NaiveDate,
) -> Option<Roll> {
    let roll = roll?;
    let parsed = problems.check(Roll::new(
        roll.number_on_roll,
        roll.census,
        roll.census_date,
    ))?;
    problems.check(kernel::dates::in_window(
        "roll.censusDate",
        parsed.census_date,
    ))?;
    if parsed.census_date > today {
        problems.add(
            "roll.censusDate",
            ErrorCode::OutOfRange,
            "census date is in the future",
        );
        return None;
    }
    Some(parsed)
}

pub(crate) fn roll_columns(roll: Option<Roll>) -> (Option<i32>, Option<String>, Option<NaiveDate>) {
    match roll {
        Some(r) => (
            Some(i32::try_from(r.number_on_roll).expect("Roll::MAX fits in i32")),
            Some(r.census.as_str().to_owned()),
            Some(r.census_date),
        ),
        None => (None, None, None),
    }
}

fn apply_filter(
    mut select: sea_orm::Select<schools::Entity>,
    filter: &SchoolFilter,
) -> Result<sea_orm::Select<schools::Entity>, DomainError> {
    if !filter.phases.is_empty() {
        select =
            select.filter(schools::Column::Phase.is_in(filter.phases.iter().map(|p| p.as_str())));
    }
    if let Some(la) = &filter.local_authority {
        select = select.filter(schools::Column::LocalAuthority.eq(la.trim()));
    }
    if let Some(designation) = filter.designation {
        select = select.filter(
            schools::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(designations::Column::SchoolId)
                    .from(designations::Entity)
                    .and_where(designations::Column::Designation.eq(designation.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(text) = search_text("nameContains", filter.name_contains.as_deref())? {
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(schools::Column::Name)))
                .like(sea_orm::sea_query::LikeExpr::new(like_contains(&text)).escape('\\')),
        );
    }
    Ok(select)
}

/// One page of the directory, ordered by name.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &SchoolFilter,
    args: &PageArgs<NameKey>,
) -> Result<Page<School>, DomainError> {
    actor.require(Permission::ReadDirectory)?;
    let select = apply_filter(schools::Entity::find(), filter)?;
    let page = fetch_page(db, select, schools::Column::Name, schools::Column::Id, args).await?;
    let items = page
        .items
        .into_iter()
        .map(School::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// How many schools match `filter`.
pub async fn count(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &SchoolFilter,
) -> Result<u64, DomainError> {
    actor.require(Permission::ReadDirectory)?;
    Ok(apply_filter(schools::Entity::find(), filter)?
        .count(db)
        .await?)
}

/// Schools by id, for batch loading. Missing ids are absent from the map.
pub async fn by_ids<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, School>, DomainError> {
    let rows = schools::Entity::find()
        .filter(schools::Column::Id.is_in(ids.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| School::from_row(row).map(|s| (s.id, s)))
        .collect()
}

/// The `SELECT` list that reads the school joined as `alias` in another table's statement,
/// each column as `{prefix}{column}`: an invoice's lines are read with their schools this way,
/// in one statement, not a second.
#[must_use]
pub fn joined_columns(alias: &str, prefix: &str) -> String {
    kernel::persistence::joined_select_list::<schools::Entity>(alias, prefix)
}

/// The school [`joined_columns`] put in `row` from column `start` on (read by position, see
/// `kernel::persistence::by_position`); `None` when the left join found none.
pub fn joined_school(
    row: &sea_orm::QueryResult,
    start: usize,
) -> Result<Option<School>, DomainError> {
    use kernel::persistence::by_position::DecodeAt as _;
    schools::Model::decode_optional_at(row, start)?
        .map(School::from_row)
        .transpose()
}

/// Schools' names by id, for messages and documents that name them (one statement).
pub async fn names_by_ids<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, String>, DomainError> {
    let rows = schools::Entity::find()
        .filter(schools::Column::Id.is_in(ids.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| (SchoolId::from_uuid(row.id), row.name))
        .collect())
}

/// The school with this URN, if any.
pub async fn by_urn(
    db: &DatabaseConnection,
    actor: &Actor,
    urn: &str,
) -> Result<Option<School>, DomainError> {
    actor.require(Permission::ReadDirectory)?;
    let urn = Urn::parse(urn).map_err(|e| DomainError::Invalid(vec![e]))?;
    schools::Entity::find()
        .filter(schools::Column::Urn.eq(urn.as_str()))
        .one(db)
        .await?
        .map(School::from_row)
        .transpose()
}

/// Each school's designations, in a stable order.
pub async fn designations_of(
    db: &DatabaseConnection,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Designation>>, DomainError> {
    let rows = designations::Entity::find()
        .filter(designations::Column::SchoolId.is_in(ids.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<Designation>> = HashMap::new();
    for row in rows {
        let d = row.designation.parse().map_err(|_| {
            DomainError::internal(CorruptRow(format!("designation {}", row.designation)))
        })?;
        out.entry(SchoolId::from_uuid(row.school_id))
            .or_default()
            .push(d);
    }
    for list in out.values_mut() {
        list.sort();
    }
    Ok(out)
}

/// Each school's inspections, most recent first.
pub async fn inspections_of(
    db: &DatabaseConnection,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Inspection>>, DomainError> {
    let rows = inspections::Entity::find()
        .filter(inspections::Column::SchoolId.is_in(ids.iter().map(SchoolId::as_uuid)))
        .order_by_desc(inspections::Column::InspectedOn)
        .order_by_desc(inspections::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<Inspection>> = HashMap::new();
    for row in rows {
        let school = SchoolId::from_uuid(row.school_id);
        out.entry(school)
            .or_default()
            .push(inspection_from_row(&row)?);
    }
    Ok(out)
}

fn inspection_from_row(row: &inspections::Model) -> Result<Inspection, DomainError> {
    let corrupt = || DomainError::internal(CorruptRow(format!("inspection {}", row.id)));
    let framework: Framework = row.framework.parse().map_err(|_| corrupt())?;
    let outcome = match framework {
        Framework::Eif2019 => Outcome::Graded(
            row.overall_grade
                .as_deref()
                .ok_or_else(corrupt)?
                .parse()
                .map_err(|_| corrupt())?,
        ),
        Framework::ReportCard2025 => Outcome::ReportCard(
            serde_json::from_value::<ReportCard>(row.report_card.clone().ok_or_else(corrupt)?)
                .map_err(|_| corrupt())?,
        ),
    };
    Ok(Inspection {
        inspected_on: row.inspected_on,
        outcome,
    })
}

/// Adds a school to the directory.
pub async fn create(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewSchool,
) -> Result<School, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut problems = Problems::new();
    let urn = problems.check(Urn::parse(&input.urn));
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    let la = problems.check(required_text(
        "localAuthority",
        &input.local_authority,
        LA_MAX,
    ));
    let postcode = problems.check(Postcode::parse(&input.postcode));
    let roll = validate_roll(&mut problems, input.roll, clock.today());
    check_sixth_form(&mut problems, input.phase, input.has_sixth_form);
    let opened_on = input
        .opened_on
        .and_then(|d| problems.check(opening_date("openedOn", d, clock.today())));
    if let Some(urn) = &urn
        && schools::Entity::find()
            .filter(schools::Column::Urn.eq(urn.as_str()))
            .count(db)
            .await?
            > 0
    {
        problems.add(
            "urn",
            ErrorCode::Taken,
            format!("a school with URN {urn} is already in the directory"),
        );
    }
    let (urn, name, la, postcode) = problems.finish_with((urn, name, la, postcode))?;

    let now = clock.now();
    let id = SchoolId::new();
    let (number_on_roll, roll_census, roll_census_date) = roll_columns(roll);
    let row = schools::ActiveModel {
        id: Set(id.as_uuid()),
        urn: Set(urn.as_str().to_owned()),
        name: Set(name),
        phase: Set(input.phase.as_str().to_owned()),
        establishment_type: Set(input.establishment_type.as_str().to_owned()),
        local_authority: Set(la),
        postcode: Set(postcode.as_str().to_owned()),
        number_on_roll: Set(number_on_roll),
        roll_census: Set(roll_census),
        roll_census_date: Set(roll_census_date),
        is_demo: Set(input.is_demo),
        has_sixth_form: Set(input.has_sixth_form),
        status: Set(SchoolStatus::Open.as_str().to_owned()),
        closed_on: Set(None),
        opened_on: Set(opened_on),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let designations = input.designations;
    let txn = db.begin_write().await?;
    let inserted = match row.insert(&txn).await {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "urn",
                ErrorCode::Taken,
                "a school with this URN is already in the directory",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    replace_designations(&txn, id, &designations).await?;
    if let Some(roll) = roll {
        record_rolls(&txn, &[(id, roll)], RollSource::Manual, now).await?;
    }
    txn.commit().await?;
    tracing::debug!(school = %id, urn = %inserted.urn, "school created");
    School::from_row(inserted)
}

async fn replace_designations<C: sea_orm::ConnectionTrait>(
    db: &C,
    id: SchoolId,
    list: &[Designation],
) -> Result<(), DomainError> {
    designations::Entity::delete_many()
        .filter(designations::Column::SchoolId.eq(id.as_uuid()))
        .exec(db)
        .await?;
    let mut unique: Vec<Designation> = list.to_vec();
    unique.sort();
    unique.dedup();
    if !unique.is_empty() {
        designations::Entity::insert_many(unique.into_iter().map(|d| designations::ActiveModel {
            school_id: Set(id.as_uuid()),
            designation: Set(d.as_str().to_owned()),
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Changes a school's record.
pub async fn update(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: SchoolId,
    changes: SchoolChanges,
) -> Result<School, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut problems = Problems::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, NAME_MAX)));
    let la = changes
        .local_authority
        .as_deref()
        .and_then(|n| problems.check(required_text("localAuthority", n, LA_MAX)));
    let postcode = changes
        .postcode
        .as_deref()
        .and_then(|p| problems.check(Postcode::parse(p)));
    let roll = changes
        .roll
        .map(|r| validate_roll(&mut problems, r, clock.today()));
    if let Some(Some(opened_on)) = changes.opened_on {
        problems.check(opening_date("openedOn", opened_on, clock.today()));
    }

    let txn = db.begin_write().await?;
    let existing = schools::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "School" })?;
    // Checked against the record as it will be, so changing only the phase of a sixth-form
    // secondary to primary is caught too.
    let phase_after = match changes.phase {
        Some(phase) => phase,
        None => existing.phase.parse().map_err(|_| {
            DomainError::internal(CorruptRow(format!("school {}: phase", existing.id)))
        })?,
    };
    check_sixth_form(
        &mut problems,
        phase_after,
        changes.has_sixth_form.unwrap_or(existing.has_sixth_form),
    );
    problems.finish()?;
    let mut row: schools::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(phase) = changes.phase {
        row.phase = Set(phase.as_str().to_owned());
    }
    if let Some(t) = changes.establishment_type {
        row.establishment_type = Set(t.as_str().to_owned());
    }
    if let Some(la) = la {
        row.local_authority = Set(la);
    }
    if let Some(postcode) = postcode {
        row.postcode = Set(postcode.as_str().to_owned());
    }
    if let Some(has_sixth_form) = changes.has_sixth_form {
        row.has_sixth_form = Set(has_sixth_form);
    }
    if let Some(opened_on) = changes.opened_on {
        row.opened_on = Set(opened_on);
    }
    let now = clock.now();
    if let Some(roll) = roll {
        let (n, census, date) = roll_columns(roll);
        row.number_on_roll = Set(n);
        row.roll_census = Set(census);
        row.roll_census_date = Set(date);
    }
    row.updated_at = Set(now);
    let updated = row.update(&txn).await?;
    if let Some(Some(roll)) = roll {
        record_rolls(&txn, &[(id, roll)], RollSource::Manual, now).await?;
    }
    if let Some(list) = &changes.designations {
        replace_designations(&txn, id, list).await?;
    }
    txn.commit().await?;
    School::from_row(updated)
}

/// Records an Ofsted inspection in its framework's terms.
pub async fn record_inspection(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: SchoolId,
    inspection: Inspection,
) -> Result<School, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut problems = Problems::new();
    problems.check(kernel::dates::in_window(
        "inspectedOn",
        inspection.inspected_on,
    ));
    if inspection.inspected_on > clock.today() {
        problems.add(
            "inspectedOn",
            ErrorCode::OutOfRange,
            "inspection date is in the future",
        );
    }
    match &inspection.outcome {
        Outcome::Graded(_) if inspection.inspected_on >= report_cards_from() => problems.add(
            "inspectedOn",
            ErrorCode::Invalid,
            "inspections from 10 November 2025 give report cards, not an overall grade",
        ),
        Outcome::ReportCard(_) if inspection.inspected_on < report_cards_from() => problems.add(
            "inspectedOn",
            ErrorCode::Invalid,
            "report cards were given from 10 November 2025; earlier inspections have an overall grade",
        ),
        Outcome::ReportCard(card) => {
            let mut areas: Vec<_> = card.areas.iter().map(|a| a.area).collect();
            areas.sort();
            let before = areas.len();
            areas.dedup();
            if areas.len() != before {
                problems.add("reportCard.areas", ErrorCode::Invalid, "each evaluation area may be graded once");
            }
            if areas.is_empty() {
                problems.add("reportCard.areas", ErrorCode::Required, "a report card grades at least one area");
            }
        }
        Outcome::Graded(_) => {}
    }
    problems.finish()?;

    let txn = db.begin_write().await?;
    let school = schools::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "School" })?;
    let (overall, card) = match &inspection.outcome {
        Outcome::Graded(grade) => (Some(grade.as_str().to_owned()), None),
        Outcome::ReportCard(card) => (
            None,
            Some(serde_json::to_value(card).map_err(DomainError::internal)?),
        ),
    };
    inspections::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        school_id: Set(school.id),
        framework: Set(inspection.outcome.framework().as_str().to_owned()),
        inspected_on: Set(inspection.inspected_on),
        overall_grade: Set(overall),
        report_card: Set(card),
        created_at: Set(clock.now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    School::from_row(school)
}

/// Whether the directory has no schools yet: the demo seeder's "empty database" test.
pub async fn is_empty(db: &DatabaseConnection) -> Result<bool, DomainError> {
    Ok(schools::Entity::find().count(db).await? == 0)
}

/// Adds rolls to the schools' history, one statement; a roll for a census day a school
/// already has replaces that day's figure (a corrected return).
pub(crate) async fn record_rolls<C: sea_orm::ConnectionTrait>(
    db: &C,
    list: &[(SchoolId, Roll)],
    source: RollSource,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if list.is_empty() {
        return Ok(());
    }
    rolls::Entity::insert_many(list.iter().map(|(school, roll)| rolls::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        school_id: Set(school.as_uuid()),
        census: Set(roll.census.as_str().to_owned()),
        census_date: Set(roll.census_date),
        number_on_roll: Set(i32::try_from(roll.number_on_roll).expect("Roll::MAX fits in i32")),
        source: Set(source.as_str().to_owned()),
        recorded_at: Set(now),
    }))
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            rolls::Column::SchoolId,
            rolls::Column::Census,
            rolls::Column::CensusDate,
        ])
        .update_columns([
            rolls::Column::NumberOnRoll,
            rolls::Column::Source,
            rolls::Column::RecordedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A roll as recorded in a school's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRoll {
    pub roll: Roll,
    pub source: RollSource,
    pub recorded_at: DateTime<Utc>,
}

/// Each school's roll history, newest census first (one statement).
pub async fn roll_history_of(
    db: &DatabaseConnection,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<RecordedRoll>>, DomainError> {
    let rows = rolls::Entity::find()
        .filter(rolls::Column::SchoolId.is_in(ids.iter().map(SchoolId::as_uuid)))
        .order_by_desc(rolls::Column::CensusDate)
        .order_by_asc(rolls::Column::Census)
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<RecordedRoll>> = HashMap::new();
    for row in rows {
        let corrupt = || DomainError::internal(CorruptRow(format!("school roll {}", row.id)));
        let roll = Roll {
            number_on_roll: u32::try_from(row.number_on_roll).map_err(|_| corrupt())?,
            census: row.census.parse().map_err(|_| corrupt())?,
            census_date: row.census_date,
        };
        out.entry(SchoolId::from_uuid(row.school_id))
            .or_default()
            .push(RecordedRoll {
                roll,
                source: row.source.parse().map_err(|_| corrupt())?,
                recorded_at: row.recorded_at,
            });
    }
    Ok(out)
}
