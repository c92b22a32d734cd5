//! Reports and documents as files.
//!
//! A domain describes a document as a [`Document`]: a title, then blocks — headings,
//! paragraphs, label/value facts and [`Table`]s — and this crate lays it out on A4 pages
//! ([`Document::pdf`]) or writes a table as CSV ([`Table::csv`]). Nothing here knows what a
//! booking or a review is: each domain decides what its reports say and who may read them,
//! and the gateway serves the bytes.
//!
//! **Why our own layout rather than HTML to PDF.** The documents Trellis produces are
//! lists and tables (delegate lists, sign-in sheets, CPD records, feedback summaries, review
//! reports). A headless browser or a typesetting engine would add hundreds of dependencies or
//! an external binary to lay out what a few hundred lines do: wrap text in the standard
//! Helvetica (its widths are in [`metrics`], nothing is embedded), break pages, repeat a
//! table's header on each page, and number the pages.
//!
//! **The same every time.** A document has no creation date or random ids, so the same
//! input gives the same bytes: a reprint is the same document, and tests compare exactly.
//!
//! **CSV is safe to open in a spreadsheet.** Text cells that a spreadsheet would read as a
//! formula (starting `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`, as
//! OWASP advises; number columns are written as they are.

mod csv_out;
pub mod format;
pub mod metrics;
mod pdf;

pub use metrics::win_ansi;

/// A document to lay out on pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The first line of the first page, and the PDF's title.
    pub title: String,
    /// Printed at the foot of every page, beside "Page n of N".
    pub footer: String,
    pub orientation: Orientation,
    pub blocks: Vec<Block>,
}

impl Document {
    #[must_use]
    pub fn new(title: impl Into<String>, orientation: Orientation) -> Self {
        Self {
            title: title.into(),
            footer: String::new(),
            orientation,
            blocks: Vec::new(),
        }
    }

    #[must_use]
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = footer.into();
        self
    }

    /// Appends a block.
    pub fn push(&mut self, block: Block) -> &mut Self {
        self.blocks.push(block);
        self
    }

    /// The document as a PDF (1.7, A4, standard fonts, uncompressed text).
    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        pdf::render(self)
    }
}

/// Page orientation: portrait for letters and records, landscape for wide tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Portrait,
    Landscape,
}

/// One block of a document, laid out top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading, kept on the same page as what follows it.
    Heading(String),
    /// A paragraph, wrapped; line breaks in the text are kept.
    Text(String),
    /// Label and value pairs, one per line ("Date: 3 March 2027").
    Facts(Vec<(String, String)>),
    Table(Table),
    /// Starts a new page (e.g. one sign-in sheet per session part).
    PageBreak,
}

/// A table: columns and rows of text. A row is as tall as its tallest wrapped cell, and at
/// least `min_row_height` points (room for a signature).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    pub min_row_height: f32,
}

impl Table {
    #[must_use]
    pub fn new(columns: Vec<Column>) -> Self {
        Self {
            columns,
            rows: Vec::new(),
            min_row_height: 0.0,
        }
    }

    /// Appends a row; missing cells are blank, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        let mut cells = cells;
        cells.resize(self.columns.len(), String::new());
        self.rows.push(cells);
        self
    }

    /// The table as CSV (RFC 4180, UTF-8, CRLF line ends, a header row of the column titles).
    #[must_use]
    pub fn csv(&self) -> Vec<u8> {
        csv_out::write(self)
    }
}

/// A table column: its title, its share of the width (a weight, not points) and whether
/// it holds numbers (right-aligned, and written unguarded in CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: String,
    pub weight: f32,
    pub numeric: bool,
}

impl Column {
    #[must_use]
    pub fn text(title: impl Into<String>, weight: f32) -> Self {
        Self {
            title: title.into(),
            weight,
            numeric: false,
        }
    }

    #[must_use]
    pub fn number(title: impl Into<String>, weight: f32) -> Self {
        Self {
            title: title.into(),
            weight,
            numeric: true,
        }
    }
}
