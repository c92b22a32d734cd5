//! What every imported file shares: decoding, line endings, columns by header name, one
//! header read and one row loop, and problems placed by line and column.
//!
//! A reader (`school_register::gias::read` and `::census::read`, `bank_statement::read`)
//! hands what it reads to a [`Sink`] in batches of [`BATCH`] rows, so memory stays flat
//! whatever the file's size; the importers sink them into a bounded channel to the database
//! side, the tests and fuzz targets into a `Vec`.

use std::io::Read;

use chrono::NaiveDate;
use encoding_rs::WINDOWS_1252;
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};
use kernel::{DomainError, ErrorCode, FieldError};

/// Rows per batch: each batch is a handful of statements whatever its size, and 1,000
/// rows of the widest insert stay under SQLite's 32,766 bound parameters.
pub const BATCH: usize = 1_000;

/// Problems reported at most; a file with more is summarised after these.
pub const MAX_PROBLEMS: usize = 200;

/// One problem with one line (and usually one column) of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineProblem {
    /// 1-based line of the file (the header is line 1); 0 for the file as a whole.
    pub line: u64,
    /// The column's header name, when the problem is one value's.
    pub column: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

impl LineProblem {
    pub fn new(
        line: u64,
        column: Option<&str>,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line,
            column: column.map(str::to_owned),
            code,
            message: message.into(),
        }
    }

    fn file(message: impl Into<String>) -> Self {
        Self::new(0, None, ErrorCode::Invalid, message)
    }

    /// As a field error: path `file.<line>.<column>` and a message that says both.
    #[must_use]
    pub fn to_field_error(&self) -> FieldError {
        let mut field = vec!["file".to_owned()];
        if self.line > 0 {
            field.push(self.line.to_string());
        }
        if let Some(column) = &self.column {
            field.push(column.clone());
        }
        let place = match (self.line, &self.column) {
            (0, _) => String::new(),
            (line, Some(column)) => format!("line {line}, column {column}: "),
            (line, None) => format!("line {line}: "),
        };
        FieldError {
            field,
            code: self.code,
            message: format!("{place}{}", self.message),
        }
    }
}

/// The problems of one import, capped at [`MAX_PROBLEMS`].
#[derive(Debug, Default)]
pub struct ProblemList {
    listed: Vec<LineProblem>,
    more: u64,
}

impl ProblemList {
    pub fn push(&mut self, problem: LineProblem) {
        if self.listed.len() < MAX_PROBLEMS {
            self.listed.push(problem);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    /// The problems kept, in the order they were found.
    pub fn listed(&self) -> &[LineProblem] {
        &self.listed
    }

    /// `Ok` when there were none; otherwise every listed problem as a field error, sorted by
    /// line, and a last one counting those not listed.
    pub fn finish(mut self) -> Result<(), DomainError> {
        if self.listed.is_empty() {
            return Ok(());
        }
        self.listed.sort_by_key(|p| p.line);
        let mut errors: Vec<FieldError> = self
            .listed
            .iter()
            .map(LineProblem::to_field_error)
            .collect();
        if self.more > 0 {
            errors.push(FieldError::new(
                "file",
                ErrorCode::Invalid,
                format!(
                    "{} more problems not listed; fix these and import again",
                    self.more
                ),
            ));
        }
        Err(DomainError::Invalid(errors))
    }
}

/// How far an import has read, for progress output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Data lines read so far (the header excluded).
    pub rows_read: u64,
}

/// The file as UTF-8: decoded from Windows-1252 as DfE ships it, or from UTF-8 when the file
/// starts with a UTF-8 byte-order mark (a spreadsheet's "CSV UTF-8" export).
pub fn decoded<R: Read>(source: R) -> DecodeReaderBytes<R, Vec<u8>> {
    DecodeReaderBytesBuilder::new()
        .encoding(Some(WINDOWS_1252))
        .bom_override(true)
        .strip_bom(true)
        .build(source)
}

/// As [`open`], for a file held whole whose encoding no convention fixes (a bank's export:
/// some banks write Windows-1252, others UTF-8 without a byte-order mark): UTF-8 when the
/// bytes are valid UTF-8, else Windows-1252; a byte-order mark wins as always.
#[must_use]
pub fn open_sniffed(bytes: &[u8]) -> FileReader<&[u8]> {
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        encoding_rs::UTF_8
    } else {
        WINDOWS_1252
    };
    let decoded = DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .bom_override(true)
        .strip_bom(true)
        .build(bytes);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(CrLfToLf::new(decoded))
}

/// Line endings as `\n`: the csv crate numbers a record that follows a CRLF line ending
/// (DfE's files, Excel's) from the line before, so problems would name the wrong line.
/// A lone `\r` becomes `\n` as well: csv ends a record there but would not count the line.
#[derive(Debug)]
pub struct CrLfToLf<R> {
    inner: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> CrLfToLf<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Moves what is left to the front and reads until two bytes are buffered (or the end).
    fn fill(&mut self) -> std::io::Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while !self.eof && self.end < 2 {
            match self.inner.read(&mut self.buf[self.end..])? {
                0 => self.eof = true,
                n => self.end += n,
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for CrLfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.end - self.start < 2 {
            self.fill()?;
        }
        let mut written = 0;
        while written < out.len() && self.start < self.end {
            let b = self.buf[self.start];
            if b == b'\r' {
                if self.start + 1 == self.end && !self.eof {
                    // Whether it ends a line is in the next read.
                    if written > 0 {
                        break;
                    }
                    self.fill()?;
                    continue;
                }
                if self.start + 1 < self.end && self.buf[self.start + 1] == b'\n' {
                    self.start += 1;
                    continue;
                }
                // A lone `\r` (classic Mac line endings) ends a record for csv too, but csv
                // does not count it as a line: as `\n`, every line is numbered.
                out[written] = b'\n';
                written += 1;
                self.start += 1;
                continue;
            }
            out[written] = b;
            written += 1;
            self.start += 1;
        }
        Ok(written)
    }
}

/// Whether a decoded value shows the file was not Windows-1252: a byte Windows-1252 leaves
/// undefined (decoded to a C1 control), or UTF-8 read as Windows-1252 ("Ã©" for "é", "â€™"
/// for "’"), which no establishment's name contains.
pub fn encoding_problem(value: &str) -> Option<&'static str> {
    if value.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return Some("contains a byte that is not Windows-1252; export the file as DfE ships it");
    }
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let utf8_lead = matches!(c, 'Ã' | 'Â' | 'â' | 'Å')
            && next.is_some_and(|n| {
                // The second byte of a UTF-8 sequence is 0x80..=0xBF, which Windows-1252
                // decodes to punctuation and symbols (€ ‚ ƒ „ … † ‡ ˆ ‰ Š ‹ Œ Ž ‘ ’ “ ” • – — ˜
                // ™ š › œ ž Ÿ, no-break space, ¡ to ¿).
                ('\u{a0}'..='\u{bf}').contains(&n) || "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ".contains(n)
            });
        if utf8_lead {
            return Some(
                "looks like UTF-8 read as Windows-1252 (e.g. \"Ã©\" for \"é\"); save the file as Windows-1252 or as CSV UTF-8 with a byte-order mark",
            );
        }
    }
    None
}

/// A date as GIAS and census files write it: `dd-mm-yyyy` or `dd/mm/yyyy`, or ISO
/// `yyyy-mm-dd`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    NaiveDate::parse_from_str(raw, "%d-%m-%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d/%m/%Y"))
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok()
}

/// Header positions of the named columns; each missing one is sent as a problem on line 1.
pub fn find_columns<T, const N: usize>(
    header: &csv::StringRecord,
    required: [&'static str; N],
    tx: &mut impl Sink<T>,
) -> Option<[usize; N]> {
    let mut out = [0; N];
    let mut ok = true;
    for (slot, name) in out.iter_mut().zip(required) {
        if let Some(i) = position(header, name) {
            *slot = i;
        } else {
            ok = false;
            tx.problem(LineProblem::new(
                1,
                Some(name),
                ErrorCode::Required,
                "required column is missing from the header row",
            ));
        }
    }
    ok.then_some(out)
}

/// A column's position by header name (exact after trimming, then ignoring case).
pub fn position(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header.iter().position(|h| h.trim() == name).or_else(|| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    })
}

/// Where a reader hands what it reads. Either call answers false when the consumer has
/// stopped listening (it failed, and is already reporting why): the reader then stops too.
pub trait Sink<T> {
    /// A batch of at most [`BATCH`] checked rows, and how far the file has been read.
    fn rows(&mut self, rows: Vec<T>, progress: Progress) -> bool;
    /// A problem with the file, a line or a value.
    fn problem(&mut self, problem: LineProblem) -> bool;
}

/// Everything collected in memory: for tests, fuzzing and small files.
#[derive(Debug)]
pub struct Collected<T> {
    pub rows: Vec<T>,
    pub problems: ProblemList,
    pub progress: Progress,
}

impl<T> Default for Collected<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            problems: ProblemList::default(),
            progress: Progress { rows_read: 0 },
        }
    }
}

impl<T> Sink<T> for Collected<T> {
    fn rows(&mut self, mut rows: Vec<T>, progress: Progress) -> bool {
        self.rows.append(&mut rows);
        self.progress = progress;
        true
    }

    fn problem(&mut self, problem: LineProblem) -> bool {
        self.problems.push(problem);
        true
    }
}

/// What every import reads through; see [`open`].
pub type FileReader<R> = csv::Reader<CrLfToLf<DecodeReaderBytes<R, Vec<u8>>>>;

/// The CSV reader every import reads through: decoded ([`decoded`]), line endings
/// normalised ([`CrLfToLf`]), no header handling (the readers find their columns by name)
/// and every record the same width as the header.
pub fn open<R: Read>(source: R) -> FileReader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(CrLfToLf::new(decoded(source)))
}

/// The header row; `None`, with the problem sent, when the file is empty or unreadable.
pub fn read_header<R: Read, T>(
    reader: &mut csv::Reader<R>,
    tx: &mut impl Sink<T>,
) -> Option<csv::StringRecord> {
    let mut header = csv::StringRecord::new();
    match reader.read_record(&mut header) {
        Ok(true) => Some(header),
        Ok(false) => {
            tx.problem(LineProblem::new(
                0,
                None,
                ErrorCode::Required,
                "the file is empty",
            ));
            None
        }
        Err(e) => {
            tx.problem(csv_problem(&e, 1));
            None
        }
    }
}

/// Reads the next row into `record` and returns the line it starts on; `rows_read` counts
/// every row, malformed ones included. A malformed row is sent as a problem and skipped.
/// `None` at the end of the file, or when the database side has stopped listening.
pub fn next_row<R: Read, T>(
    reader: &mut csv::Reader<R>,
    record: &mut csv::StringRecord,
    rows_read: &mut u64,
    tx: &mut impl Sink<T>,
) -> Option<u64> {
    loop {
        match reader.read_record(record) {
            Ok(false) => return None,
            Ok(true) => {
                *rows_read += 1;
                return Some(
                    record
                        .position()
                        .map_or(*rows_read + 1, csv::Position::line),
                );
            }
            Err(e) => {
                *rows_read += 1;
                if !tx.problem(csv_problem(&e, *rows_read + 1)) {
                    return None;
                }
            }
        }
    }
}

/// A CSV error as a line problem (a record with the wrong number of fields, or bytes that
/// are not text).
pub fn csv_problem(err: &csv::Error, fallback_line: u64) -> LineProblem {
    let line = err.position().map_or(fallback_line, csv::Position::line);
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => LineProblem::new(
            line,
            None,
            ErrorCode::Invalid,
            format!("has {len} fields where the header has {expected_len}"),
        ),
        csv::ErrorKind::Io(e) => LineProblem::file(format!("cannot read the file: {e}")),
        _ => LineProblem::new(line, None, ErrorCode::Invalid, format!("not CSV: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_is_decoded_and_utf8_with_a_bom_too() {
        let mut out = String::new();
        decoded(&b"Caf\xe9 \x92s"[..])
            .read_to_string(&mut out)
            .expect("decodes");
        assert_eq!(out, "Café ’s");
        let mut out = String::new();
        decoded("\u{feff}Café ’s".as_bytes())
            .read_to_string(&mut out)
            .expect("decodes");
        assert_eq!(out, "Café ’s");
    }

    #[test]
    fn utf8_read_as_windows_1252_is_caught() {
        let mut out = String::new();
        decoded("St Thérèse’s".as_bytes())
            .read_to_string(&mut out)
            .expect("decodes");
        assert!(encoding_problem(&out).is_some(), "{out}");
        assert!(encoding_problem("St Thérèse’s Catholic Primary").is_none());
        assert!(encoding_problem("Ærø Åbo").is_none());
        let mut out = String::new();
        decoded(&b"bad \x81 byte"[..])
            .read_to_string(&mut out)
            .expect("decodes");
        assert!(encoding_problem(&out).is_some());
    }

    /// Hands out one byte per read, the worst case for a `\r` at a buffer's end.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((b, rest)), Some(slot)) => {
                    *slot = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn crlf_and_lone_cr_become_lf() {
        let input = b"a,b\r\n1,2\r\nx\ry\r\n\r";
        for whole in [true, false] {
            let mut out = Vec::new();
            if whole {
                CrLfToLf::new(&input[..]).read_to_end(&mut out)
            } else {
                CrLfToLf::new(Trickle(input)).read_to_end(&mut out)
            }
            .expect("reads");
            assert_eq!(out, b"a,b\n1,2\nx\ny\n\n");
        }
    }

    #[test]
    fn lines_are_numbered_right_after_crlf_endings() {
        let data = "URN,pupils\r\n100001,1\r\n100002\r\n";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(CrLfToLf::new(data.as_bytes()));
        let mut record = csv::StringRecord::new();
        assert!(reader.read_record(&mut record).expect("header"));
        assert!(reader.read_record(&mut record).expect("line 2"));
        assert_eq!(record.position().map(csv::Position::line), Some(2));
        let err = reader.read_record(&mut record).expect_err("short");
        assert_eq!(csv_problem(&err, 0).line, 3);
    }

    #[test]
    fn dates_in_the_shapes_files_use() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 16);
        assert_eq!(parse_date("16-01-2025"), d);
        assert_eq!(parse_date("16/01/2025"), d);
        assert_eq!(parse_date("2025-01-16"), d);
        assert_eq!(parse_date("2025-13-01"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn problems_name_line_and_column() {
        let p = LineProblem::new(
            12,
            Some("Postcode"),
            ErrorCode::Invalid,
            "not a UK postcode",
        );
        let f = p.to_field_error();
        assert_eq!(f.field, ["file", "12", "Postcode"]);
        assert_eq!(f.message, "line 12, column Postcode: not a UK postcode");
    }
}
