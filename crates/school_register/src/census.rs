//! Census rolls read: a file of `URN,pupils` taken at one census, as a school information
//! system or the LA exports it. Which census and which day is the importer's to say
//! (`membership::import::census`), not the file's.

use std::collections::HashMap;
use std::io::Read;

use kernel::ErrorCode;

use crate::file::{BATCH, LineProblem, Progress, Sink, find_columns, next_row, read_header};
use crate::types::{Roll, Urn};

/// One school's figure, checked: a URN and a number on roll within [`Roll::MAX`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line of the file, for problems the directory finds later.
    pub line: u64,
    pub urn: Urn,
    pub pupils: u32,
}

/// Reads a census file: a header naming `URN` and `pupils` (other columns ignored), then a
/// line per school; blank lines are skipped, a URN twice is a problem on its second line.
pub fn read<R: Read>(mut reader: csv::Reader<R>, tx: &mut impl Sink<Line>) {
    let Some(header) = read_header(&mut reader, tx) else {
        return;
    };
    let Some([urn_col, pupils_col]) = find_columns(&header, ["URN", "pupils"], tx) else {
        return;
    };
    let mut seen: HashMap<Urn, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    let mut record = csv::StringRecord::new();
    let mut rows_read = 0_u64;
    while let Some(line) = next_row(&mut reader, &mut record, &mut rows_read, tx) {
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let raw_urn = record.get(urn_col).unwrap_or_default().trim();
        let raw_pupils = record.get(pupils_col).unwrap_or_default().trim();
        let urn = Urn::parse(raw_urn).map_err(|_| {
            LineProblem::new(
                line,
                Some("URN"),
                ErrorCode::Invalid,
                format!("{raw_urn:?} is not a URN (six digits)"),
            )
        });
        let pupils = match raw_pupils.parse::<i64>() {
            Ok(n) if (0..=i64::from(Roll::MAX)).contains(&n) => {
                Ok(u32::try_from(n).expect("bounded"))
            }
            Ok(n) => Err(LineProblem::new(
                line,
                Some("pupils"),
                ErrorCode::OutOfRange,
                format!("{n}: number on roll must be between 0 and {}", Roll::MAX),
            )),
            Err(_) => Err(LineProblem::new(
                line,
                Some("pupils"),
                if raw_pupils.is_empty() {
                    ErrorCode::Required
                } else {
                    ErrorCode::Invalid
                },
                format!("{raw_pupils:?} is not a whole number of pupils"),
            )),
        };
        let mut problems = Vec::new();
        if let Ok(urn) = &urn {
            if let Some(first) = seen.get(urn) {
                problems.push(LineProblem::new(
                    line,
                    Some("URN"),
                    ErrorCode::Taken,
                    format!("URN {urn} is also on line {first}"),
                ));
            } else {
                seen.insert(urn.clone(), line);
            }
        }
        match (urn, pupils) {
            (Ok(urn), Ok(pupils)) if problems.is_empty() => {
                batch.push(Line { line, urn, pupils });
            }
            (urn, pupils) => {
                problems.extend(urn.err());
                problems.extend(pupils.err());
            }
        }
        for p in problems {
            if !tx.problem(p) {
                return;
            }
        }
        if batch.len() == BATCH && !tx.rows(std::mem::take(&mut batch), Progress { rows_read }) {
            return;
        }
    }
    tx.rows(batch, Progress { rows_read });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{Collected, open};

    /// Found by the `school_files` fuzz target: with classic Mac line endings (a lone `\r`)
    /// csv ended records but numbered every one line 1.
    #[test]
    fn lines_are_numbered_with_lone_cr_endings() {
        let mut got = Collected::default();
        read(
            open(&b"URN,pupils\r100001,402\r100002,many\r"[..]),
            &mut got,
        );
        assert_eq!(got.rows.iter().map(|l| l.line).collect::<Vec<_>>(), [2]);
        let lines: Vec<u64> = got.problems.listed().iter().map(|p| p.line).collect();
        assert_eq!(lines, [3]);
    }
}
