//! The DfE's establishment register, "Get Information About Schools" (GIAS), read.
//!
//! The all-establishments extract (`edubasealldataYYYYMMDD.csv`) has about 50,000 rows and
//! 300 columns in Windows-1252; [`read`] finds the columns in [`COLUMNS`] (and `CloseDate`,
//! `OpenDate`, `StatutoryLowAge`, `StatutoryHighAge` when present) by header name, keeps the rows a
//! [`Scope`] selects and checks each into a [`Row`]. Which column becomes what in the
//! directory is tabled in `membership::import::gias`, which applies the rows.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use chrono::NaiveDate;
use kernel::ErrorCode;

use crate::file::{
    BATCH, LineProblem, Progress, Sink, encoding_problem, find_columns, next_row, parse_date,
    position, read_header,
};
use crate::inspection::{OverallGrade, report_cards_from};
use crate::types::{
    EstablishmentType, Phase, Postcode, Roll, RollCensus, SchoolStatus, Urn, opening_date,
};

/// Longest establishment or trust name kept.
pub const NAME_MAX: usize = 200;
/// Longest local-authority name kept.
pub const LA_MAX: usize = 100;

/// The columns every extract must have, by header name.
pub const COLUMNS: [&str; 13] = [
    "URN",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "PhaseOfEducation (name)",
    "LA (name)",
    "Postcode",
    "NumberOfPupils",
    "CensusDate",
    "OfficialSixthForm (name)",
    "EstablishmentStatus (name)",
    "Trusts (name)",
    "OfstedRating (name)",
    "OfstedLastInsp",
];
const URN: usize = 0;
const NAME: usize = 1;
const TYPE: usize = 2;
const PHASE: usize = 3;
const LA: usize = 4;
const POSTCODE: usize = 5;
const PUPILS: usize = 6;
const CENSUS_DATE: usize = 7;
const SIXTH_FORM: usize = 8;
const STATUS: usize = 9;
/// Index of `Trusts (name)` in [`COLUMNS`], for problems the directory finds with a trust.
pub const TRUST: usize = 10;
const OFSTED_RATING: usize = 11;
const OFSTED_DATE: usize = 12;

/// One establishment as read from the file, checked.
#[derive(Debug, Clone)]
pub struct Row {
    /// The line it starts on, for problems the directory finds later.
    pub line: u64,
    pub urn: Urn,
    pub name: String,
    pub phase: Phase,
    pub establishment_type: EstablishmentType,
    pub local_authority: String,
    /// None only for a closed establishment (kept as it is).
    pub postcode: Option<Postcode>,
    pub roll: Option<Roll>,
    pub has_sixth_form: bool,
    pub status: SchoolStatus,
    pub closed_on: Option<NaiveDate>,
    /// The day it opened (or is due to open), from `OpenDate`: `None` when the column is
    /// missing or blank, or the date is before 2000 (a school that old is never new, and
    /// Trellis records no date before 2000).
    pub opened_on: Option<NaiveDate>,
    pub trust: Option<String>,
    pub inspection: Option<(NaiveDate, OverallGrade)>,
}

/// A row the [`Scope`] selected: a school, or an establishment of a type Trellis does not list
/// (a university, a Welsh school…), counted and skipped.
#[derive(Debug, Clone)]
pub enum Item {
    Row(Box<Row>),
    NotASchool,
}

/// Which establishments of the file to read. Empty sets select everything.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Local authority names (`LA (name)`), lower-cased: matched ignoring case.
    pub local_authorities: HashSet<String>,
    pub urns: HashSet<Urn>,
}

/// Reads an extract: the header, then every record the scope selects, checked (a record out
/// of scope is not: the national file has rows of every kind). `today` bounds the dates.
pub fn read<R: Read>(
    mut reader: csv::Reader<R>,
    tx: &mut impl Sink<Item>,
    scope: &Scope,
    today: NaiveDate,
) {
    let mut record = csv::StringRecord::new();
    let Some(header) = read_header(&mut reader, tx) else {
        return;
    };
    let Some(cols) = find_columns(&header, COLUMNS, tx) else {
        return;
    };
    let close_date = position(&header, "CloseDate");
    let open_date = position(&header, "OpenDate");
    let low_age = position(&header, "StatutoryLowAge");
    let high_age = position(&header, "StatutoryHighAge");
    let mut seen: HashMap<Urn, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut rows_read = 0_u64;
    while let Some(line) = next_row(&mut reader, &mut record, &mut rows_read, tx) {
        let get = |i: usize| record.get(i).unwrap_or_default().trim();
        // Filter first: rows out of scope are not checked (the national file has rows of
        // every kind).
        let urn = Urn::parse(get(cols[URN]));
        let las = &scope.local_authorities;
        if !las.is_empty() && !las.contains(&get(cols[LA]).to_lowercase()) {
            continue;
        }
        let urns = &scope.urns;
        if !urns.is_empty() && !urn.as_ref().is_ok_and(|u| urns.contains(u)) {
            continue;
        }
        let mut problems = Vec::new();
        let item = check(
            &record,
            &cols,
            [close_date, open_date, low_age, high_age],
            line,
            today,
            &mut problems,
        );
        if let Ok(urn) = &urn {
            if let Some(first) = seen.get(urn) {
                problems.push(LineProblem::new(
                    line,
                    Some(COLUMNS[URN]),
                    ErrorCode::Taken,
                    format!("URN {urn} is also on line {first}"),
                ));
            } else {
                seen.insert(urn.clone(), line);
            }
        }
        // A row with a problem is not handed on (a URN's second line included): what the
        // sink receives is only what the checks allow.
        let clean = problems.is_empty();
        for p in problems.drain(..) {
            if !tx.problem(p) {
                return;
            }
        }
        if let Some(item) = item.filter(|_| clean) {
            batch.push(item);
        }
        if batch.len() == BATCH && !tx.rows(std::mem::take(&mut batch), Progress { rows_read }) {
            return;
        }
    }
    tx.rows(batch, Progress { rows_read });
}

/// One record checked; `None` when it has problems (pushed) or is a closed school.
fn check(
    record: &csv::StringRecord,
    cols: &[usize; 13],
    [close_date, open_date, low_age, high_age]: [Option<usize>; 4],
    line: u64,
    today: NaiveDate,
    problems: &mut Vec<LineProblem>,
) -> Option<Item> {
    let get = |i: usize| record.get(i).unwrap_or_default().trim();
    let mut problem = |col: usize, code: ErrorCode, message: String| {
        problems.push(LineProblem::new(line, Some(COLUMNS[col]), code, message));
    };
    for col in [NAME, LA, TRUST] {
        if let Some(why) = encoding_problem(get(cols[col])) {
            problem(col, ErrorCode::Invalid, why.to_owned());
            return None;
        }
    }
    let urn = Urn::parse(get(cols[URN]))
        .map_err(|_| {
            problem(
                URN,
                ErrorCode::Invalid,
                format!("{:?} is not a URN (six digits)", get(cols[URN])),
            );
        })
        .ok();
    let raw_type = get(cols[TYPE]);
    let establishment_type = match establishment_type(raw_type) {
        Ok(Some(t)) => Some(t),
        Ok(None) => return Some(Item::NotASchool),
        Err(()) => {
            problem(
                TYPE,
                ErrorCode::Invalid,
                format!("{raw_type:?} is not a GIAS establishment type"),
            );
            None
        }
    };
    let name = kernel::required_text("name", get(cols[NAME]), NAME_MAX)
        .map_err(|e| problem(NAME, e.code, e.message))
        .ok();
    let local_authority = kernel::required_text("la", get(cols[LA]), LA_MAX)
        .map_err(|e| problem(LA, e.code, e.message))
        .ok();
    let raw_status = get(cols[STATUS]);
    let status = match raw_status {
        "Open" => Some(SchoolStatus::Open),
        "Open, but proposed to close" => Some(SchoolStatus::OpenProposedToClose),
        "Proposed to open" => Some(SchoolStatus::ProposedToOpen),
        "Closed" => Some(SchoolStatus::Closed),
        _ => {
            problem(
                STATUS,
                ErrorCode::Invalid,
                format!(
                    "{raw_status:?} is not a GIAS status (Open; Open, but proposed to close; Proposed to open; Closed)"
                ),
            );
            None
        }
    };
    let closed = status == Some(SchoolStatus::Closed);
    let raw_postcode = get(cols[POSTCODE]);
    let postcode = match Postcode::parse(raw_postcode) {
        Ok(p) => Some(p),
        // A closed establishment's postcode is often blank; it keeps the one it had.
        Err(_) if closed => None,
        Err(e) => {
            problem(POSTCODE, e.code, format!("{raw_postcode:?}: {}", e.message));
            None
        }
    };
    let age = |col: Option<usize>| col.and_then(|c| record.get(c)?.trim().parse::<u8>().ok());
    let phase = if is_special(raw_type) {
        Some(Phase::Special)
    } else if is_alternative_provision(raw_type) {
        Some(Phase::Pru)
    } else {
        let raw = get(cols[PHASE]);
        let phase = phase(raw, age(low_age), age(high_age));
        if phase.is_none() {
            problem(
                PHASE,
                ErrorCode::Invalid,
                format!("{raw:?} is not a phase Trellis can place this {raw_type} in"),
            );
        }
        phase
    };
    let raw_sixth = get(cols[SIXTH_FORM]);
    let sixth_form = match raw_sixth {
        "Has a sixth form" => Some(true),
        "Does not have a sixth form" | "Not applicable" | "" => Some(false),
        _ => {
            problem(
                SIXTH_FORM,
                ErrorCode::Invalid,
                format!("{raw_sixth:?} is not a GIAS sixth-form value"),
            );
            None
        }
    };
    let roll = read_roll(
        get(cols[PUPILS]),
        get(cols[CENSUS_DATE]),
        today,
        &mut problem,
    );
    let closed_on = match close_date.map(|c| record.get(c).unwrap_or_default().trim()) {
        Some(raw) if !raw.is_empty() && closed => {
            let date = parse_date(raw);
            if date.is_none() {
                problems.push(LineProblem::new(
                    line,
                    Some("CloseDate"),
                    ErrorCode::Invalid,
                    format!("{raw:?} is not a date (dd-mm-yyyy)"),
                ));
            }
            date
        }
        _ => None,
    };
    let opened_on = open_date
        .map(|c| record.get(c).unwrap_or_default().trim())
        .and_then(|raw| {
            read_open_date(raw, line, today)
                .map_err(|p| problems.push(p))
                .ok()
        })
        .flatten();
    let mut problem = |col: usize, code: ErrorCode, message: String| {
        problems.push(LineProblem::new(line, Some(COLUMNS[col]), code, message));
    };
    let trust = match get(cols[TRUST]) {
        "" => None,
        t if t.chars().count() > NAME_MAX => {
            problem(
                TRUST,
                ErrorCode::TooLong,
                format!("must be at most {NAME_MAX} characters"),
            );
            None
        }
        t => Some(t.to_owned()),
    };
    let inspection = read_inspection(
        get(cols[OFSTED_RATING]),
        get(cols[OFSTED_DATE]),
        today,
        &mut problem,
    );
    let (Some(urn), Some(name), Some(establishment_type), Some(local_authority), Some(status)) =
        (urn, name, establishment_type, local_authority, status)
    else {
        return None;
    };
    let (Some(phase), Some(sixth_form)) = (phase, sixth_form) else {
        return None;
    };
    let roll = roll.ok()?;
    let inspection = inspection.ok()?;
    if postcode.is_none() && !closed {
        return None;
    }
    // Trellis's rule (`Phase::may_have_sixth_form`, which `schoolUpdate` checks too): a
    // sixth form only where a school teaches up to 16. GIAS's word is taken for the rest, so
    // a "Has a sixth form" on another phase is dropped rather than refused.
    let has_sixth_form = sixth_form && phase.may_have_sixth_form();
    Some(Item::Row(Box::new(Row {
        line,
        urn,
        name,
        phase,
        establishment_type,
        local_authority,
        postcode,
        roll,
        has_sixth_form,
        status,
        closed_on,
        opened_on,
        trust,
        inspection,
    })))
}

/// `OpenDate`: blank is unknown; a date before 2000 is a school long open (never new), kept
/// as unknown; a date Trellis cannot record (malformed, or further ahead than
/// [`crate::types::OPENING_HORIZON_YEARS`]) is a problem on `line`.
fn read_open_date(
    raw: &str,
    line: u64,
    today: NaiveDate,
) -> Result<Option<NaiveDate>, LineProblem> {
    if raw.is_empty() {
        return Ok(None);
    }
    let Some(date) = parse_date(raw) else {
        return Err(LineProblem::new(
            line,
            Some("OpenDate"),
            ErrorCode::Invalid,
            format!("{raw:?} is not a date (dd-mm-yyyy)"),
        ));
    };
    if date < kernel::dates::EARLIEST {
        return Ok(None);
    }
    opening_date("OpenDate", date, today)
        .map(Some)
        .map_err(|e| {
            LineProblem::new(
                line,
                Some("OpenDate"),
                e.code,
                format!("{date}: {}", e.message),
            )
        })
}

fn read_roll(
    raw_pupils: &str,
    raw_date: &str,
    today: NaiveDate,
    problem: &mut impl FnMut(usize, ErrorCode, String),
) -> Result<Option<Roll>, ()> {
    if raw_pupils.is_empty() {
        return Ok(None);
    }
    let Ok(n) = raw_pupils.parse::<i64>() else {
        problem(
            PUPILS,
            ErrorCode::Invalid,
            format!("{raw_pupils:?} is not a whole number of pupils"),
        );
        return Err(());
    };
    let Some(date) = parse_date(raw_date) else {
        problem(
            CENSUS_DATE,
            if raw_date.is_empty() {
                ErrorCode::Required
            } else {
                ErrorCode::Invalid
            },
            format!("{raw_date:?}: a number of pupils needs its census date (dd-mm-yyyy)"),
        );
        return Err(());
    };
    let census = census_of(date).ok_or_else(|| {
        problem(
            CENSUS_DATE,
            ErrorCode::Invalid,
            format!("{date} is not in a census month (October, or January)"),
        );
    })?;
    if kernel::dates::in_window("c", date).is_err() || date > today {
        problem(
            CENSUS_DATE,
            ErrorCode::OutOfRange,
            format!("{date} is before 2000 or in the future"),
        );
        return Err(());
    }
    Roll::new(n, census, date).map(Some).map_err(|e| {
        problem(PUPILS, e.code, format!("{n}: {}", e.message));
    })
}

/// The census a census day belongs to: the autumn census is in October, the spring one in
/// January.
pub fn census_of(date: NaiveDate) -> Option<RollCensus> {
    use chrono::Datelike as _;
    match date.month() {
        10 => Some(RollCensus::October),
        1 => Some(RollCensus::January),
        _ => None,
    }
}

fn read_inspection(
    raw_rating: &str,
    raw_date: &str,
    today: NaiveDate,
    problem: &mut impl FnMut(usize, ErrorCode, String),
) -> Result<Option<(NaiveDate, OverallGrade)>, ()> {
    if raw_date.is_empty() {
        return Ok(None);
    }
    let Some(date) = parse_date(raw_date) else {
        problem(
            OFSTED_DATE,
            ErrorCode::Invalid,
            format!("{raw_date:?} is not a date (dd-mm-yyyy)"),
        );
        return Err(());
    };
    if kernel::dates::in_window("d", date).is_err() || date > today {
        problem(
            OFSTED_DATE,
            ErrorCode::OutOfRange,
            format!("{date} is before 2000 or in the future"),
        );
        return Err(());
    }
    let grade = match raw_rating.to_lowercase().as_str() {
        "outstanding" => OverallGrade::Outstanding,
        "good" => OverallGrade::Good,
        "requires improvement" => OverallGrade::RequiresImprovement,
        "inadequate" | "serious weaknesses" | "special measures" => OverallGrade::Inadequate,
        _ => return Ok(None),
    };
    Ok((date < report_cards_from()).then_some((date, grade)))
}

fn is_special(raw_type: &str) -> bool {
    let t = raw_type.to_lowercase();
    t.contains("special") && !t.contains("post 16")
}

fn is_alternative_provision(raw_type: &str) -> bool {
    let t = raw_type.to_lowercase();
    t.contains("alternative provision") || t == "pupil referral unit"
}

/// GIAS's `TypeOfEstablishment (name)`: `Ok(None)` for establishments Trellis does not
/// list, `Err` for a name GIAS does not use.
fn establishment_type(raw: &str) -> Result<Option<EstablishmentType>, ()> {
    use EstablishmentType as T;
    Ok(Some(match raw {
        "Community school" | "Community special school" | "Pupil referral unit" => T::Community,
        "Voluntary aided school" => T::VoluntaryAided,
        "Voluntary controlled school" => T::VoluntaryControlled,
        "Foundation school" | "Foundation special school" => T::Foundation,
        "Academy converter"
        | "Academy sponsor led"
        | "Academy special converter"
        | "Academy special sponsor led"
        | "Academy alternative provision converter"
        | "Academy alternative provision sponsor led"
        | "Academy 16-19 converter"
        | "Academy 16 to 19 sponsor led"
        | "City technology college" => T::Academy,
        "Free schools"
        | "Free schools special"
        | "Free schools alternative provision"
        | "Free schools 16 to 19"
        | "University technical college"
        | "Studio schools" => T::FreeSchool,
        "Other independent school"
        | "Other independent special school"
        | "Non-maintained special school" => T::Independent,
        "Further education" | "Sixth form centres" | "Special post 16 institution" => {
            T::FurtherEducation
        }
        "Local authority nursery school" => T::LocalAuthorityNursery,
        "Higher education institutions"
        | "Welsh establishment"
        | "British schools overseas"
        | "Offshore schools"
        | "Online provider"
        | "Secure units"
        | "Service children's education"
        | "Institution funded by other government department"
        | "Miscellaneous"
        | "Children's centre"
        | "Children's centre linked site" => return Ok(None),
        _ => return Err(()),
    }))
}

/// GIAS's `PhaseOfEducation (name)`, with the statutory ages to tell infant and junior
/// schools from primaries.
fn phase(raw: &str, low_age: Option<u8>, high_age: Option<u8>) -> Option<Phase> {
    Some(match raw {
        "Nursery" => Phase::Nursery,
        "Primary" => match (low_age, high_age) {
            (_, Some(high)) if high <= 7 => Phase::Infant,
            (Some(low), _) if low >= 7 => Phase::Junior,
            _ => Phase::Primary,
        },
        "Middle deemed primary" | "Middle deemed secondary" => Phase::Middle,
        "Secondary" => Phase::Secondary,
        "All-through" => Phase::AllThrough,
        "16 plus" => Phase::SixthFormFe,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{Collected, open};

    #[test]
    fn phases_use_the_statutory_ages() {
        assert_eq!(phase("Primary", Some(3), Some(7)), Some(Phase::Infant));
        assert_eq!(phase("Primary", Some(7), Some(11)), Some(Phase::Junior));
        assert_eq!(phase("Primary", Some(3), Some(11)), Some(Phase::Primary));
        assert_eq!(phase("Primary", None, None), Some(Phase::Primary));
        assert_eq!(
            phase("Middle deemed secondary", None, None),
            Some(Phase::Middle)
        );
        assert_eq!(phase("16 plus", None, None), Some(Phase::SixthFormFe));
        assert_eq!(phase("Not applicable", None, None), None);
    }

    #[test]
    fn types_map_or_are_skipped_or_refused() {
        assert_eq!(
            establishment_type("Academy converter"),
            Ok(Some(EstablishmentType::Academy))
        );
        assert_eq!(establishment_type("Welsh establishment"), Ok(None));
        assert_eq!(establishment_type("Academy convertor"), Err(()));
        assert!(is_special("Community special school"));
        assert!(!is_special("Special post 16 institution"));
        assert!(is_alternative_provision("Pupil referral unit"));
    }

    fn extract(rows: &[&str]) -> Vec<u8> {
        let mut file = COLUMNS
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(",");
        for row in rows {
            file.push_str("\r\n");
            file.push_str(row);
        }
        file.into_bytes()
    }

    #[test]
    fn a_urns_second_line_is_a_problem_and_not_a_row() {
        let row = "100001,Hill Primary,Community school,Primary,Haringey,N10 2HN,420,16-01-2025,Not applicable,Open,,Good,12-03-2019";
        let file = extract(&[
            row,
            row,
            "100002,,Foundation school,Primary,Barnet,N3 1AA,,,,Open,,,",
        ]);
        let mut read = Collected::default();
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
        super::read(open(&file[..]), &mut read, &Scope::default(), today);
        assert_eq!(read.rows.len(), 1, "only the first line of URN 100001");
        assert!(matches!(&read.rows[0], Item::Row(r) if r.line == 2 && r.roll.is_some()));
        let problems: Vec<_> = read
            .problems
            .listed()
            .iter()
            .map(|p| (p.line, p.column.clone(), p.code))
            .collect();
        assert_eq!(
            problems,
            [
                (3, Some("URN".to_owned()), ErrorCode::Taken),
                (4, Some("EstablishmentName".to_owned()), ErrorCode::Required),
            ]
        );
        assert_eq!(read.progress.rows_read, 3);
    }

    /// GIAS ships `OpenDate` as dd-mm-yyyy; a school opening soon ("Proposed to open") is
    /// read, one opened before 2000 is long established and recorded as unknown, and a date
    /// that is malformed or too far ahead is a problem on its line and column, not a row.
    #[test]
    fn open_dates_are_read_as_gias_writes_them() {
        let header = COLUMNS
            .iter()
            .map(|c| format!("\"{c}\""))
            .chain(["\"OpenDate\"".to_owned()])
            .collect::<Vec<_>>()
            .join(",");
        let row = |urn: &str, open: &str| {
            format!(
                "{urn},Hill School,Community school,Secondary,Haringey,N10 2HN,,,Has a sixth form,Open,,,,{open}"
            )
        };
        let file = [
            header,
            row("100001", "01-09-2025"),
            row("100002", ""),
            row("100003", "01-09-1974"),
            row("100004", "31-02-2025"),
            row("100005", "01-09-2035"),
            row("100006", "01-09-2027"),
        ]
        .join("\r\n");
        let mut read = Collected::default();
        let today = NaiveDate::from_ymd_opt(2026, 12, 4).expect("date");
        super::read(open(file.as_bytes()), &mut read, &Scope::default(), today);
        let opened: Vec<_> = read
            .rows
            .iter()
            .map(|item| match item {
                Item::Row(r) => (r.urn.to_string(), r.opened_on, r.has_sixth_form),
                Item::NotASchool => panic!("a school"),
            })
            .collect();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            opened,
            [
                ("100001".to_owned(), d(2025, 9, 1), true),
                ("100002".to_owned(), None, true),
                ("100003".to_owned(), None, true),
                ("100006".to_owned(), d(2027, 9, 1), true),
            ]
        );
        let problems: Vec<_> = read
            .problems
            .listed()
            .iter()
            .map(|p| (p.line, p.column.clone(), p.code))
            .collect();
        assert_eq!(
            problems,
            [
                (5, Some("OpenDate".to_owned()), ErrorCode::Invalid),
                (6, Some("OpenDate".to_owned()), ErrorCode::OutOfRange),
            ]
        );
    }

    #[test]
    fn census_months() {
        let d = |m| NaiveDate::from_ymd_opt(2025, m, 2).expect("date");
        assert_eq!(census_of(d(1)), Some(RollCensus::January));
        assert_eq!(census_of(d(10)), Some(RollCensus::October));
        assert_eq!(census_of(d(5)), None);
    }
}
