//! The files a partnership imports: a GIAS establishment extract and a census file, read by
//! `school_register` exactly as `membership::import` reads them (decoding, line endings,
//! columns by header name, every value checked), and a bank statement, read by
//! `bank_statement` as `billing::ledger::bank` reads it (as CSV and as CAMT.053 XML): the same
//! bytes through all four.
//!
//! Contract: any bytes become rows and problems, never a panic or a hang; every problem and
//! every row is placed on a line the file has; every row holds only what the checks allow
//! (a roll within bounds and its census day not in the future, a name within its length, a
//! postcode unless the establishment is closed; an amount that is money and not nothing,
//! within what one payment can be); no URN is read twice.
#![no_main]

use std::collections::HashSet;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use school_register::census;
use school_register::file::{Collected, LineProblem, open};
use school_register::gias::{self, Item, NAME_MAX, Scope};
use school_register::types::{Roll, SchoolStatus};

fuzz_target!(|data: &[u8]| {
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date");
    // csv numbers lines by their terminators; decoding never makes one up.
    let lines = 1 + data.iter().filter(|b| matches!(b, b'\n' | b'\r')).count() as u64;

    let mut read = Collected::default();
    gias::read(open(data), &mut read, &Scope::default(), today);
    placed(read.problems.listed(), lines);
    assert!(read.progress.rows_read <= lines);
    let mut urns = HashSet::new();
    for item in &read.rows {
        let Item::Row(row) = item else { continue };
        assert!((2..=lines).contains(&row.line), "row on line {}", row.line);
        assert!(urns.insert(row.urn.clone()), "URN {} read twice", row.urn);
        assert!(!row.name.trim().is_empty() && row.name.chars().count() <= NAME_MAX);
        assert!(row.postcode.is_some() || row.status == SchoolStatus::Closed);
        if let Some(roll) = row.roll {
            assert!(roll.number_on_roll <= Roll::MAX);
            assert!(roll.census_date <= today);
        }
        if let Some((inspected, _)) = row.inspection {
            assert!(inspected <= today);
        }
    }

    let mut read = Collected::default();
    census::read(open(data), &mut read);
    placed(read.problems.listed(), lines);
    let mut urns = HashSet::new();
    for line in &read.rows {
        assert!((2..=lines).contains(&line.line), "row on line {}", line.line);
        assert!(urns.insert(line.urn.clone()), "URN {} read twice", line.urn);
        assert!(line.pupils <= Roll::MAX);
    }

    let mut read = Collected::default();
    bank_statement::read(open(data), &mut read);
    placed(read.problems.listed(), lines);
    for line in &read.rows {
        assert!((2..=lines).contains(&line.line), "row on line {}", line.line);
        assert!(line.amount_pence != 0);
        assert!(line.amount_pence.abs() <= kernel::money::MAX_INPUT_PENCE);
        assert!(line.description.chars().count() <= bank_statement::DESCRIPTION_MAX);
    }

    // The same bytes as a CAMT.053 statement: problems name the file or an entry, lines are
    // numbered by entry and hold only what a CSV line may.
    let mut read = Collected::default();
    bank_statement::camt::read(data, &mut read);
    placed(read.problems.listed(), lines);
    for line in &read.rows {
        assert!(line.line >= 1 && line.line <= read.progress.rows_read);
        assert!(line.amount_pence != 0);
        assert!(line.amount_pence.abs() <= kernel::money::MAX_INPUT_PENCE);
        assert!(!line.description.is_empty());
        assert!(line.description.chars().count() <= bank_statement::DESCRIPTION_MAX);
    }
});

/// Every problem names a line of the file (0 for the file as a whole) and says something.
fn placed(problems: &[LineProblem], lines: u64) {
    for p in problems {
        assert!(p.line <= lines, "problem on line {} of {lines}: {}", p.line, p.message);
        assert!(!p.message.is_empty());
    }
}
