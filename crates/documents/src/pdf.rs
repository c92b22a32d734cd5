//! Laying a [`Document`] out on A4 pages and writing the PDF.

use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str, TextStr};

use crate::metrics::{Face, width, win_ansi, wrap};
use crate::{Block, Document, Orientation, Table};

/// A4 in points.
const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 42.0;
/// Content stays above this line; the footer sits below it.
const BOTTOM: f32 = 56.0;
const FOOTER_Y: f32 = 30.0;

const TITLE_SIZE: f32 = 16.0;
const HEADING_SIZE: f32 = 12.0;
const TEXT_SIZE: f32 = 10.0;
const TEXT_LEADING: f32 = 13.0;
const CELL_SIZE: f32 = 9.0;
const CELL_LEADING: f32 = 11.0;
const CELL_PAD: f32 = 4.0;
/// A cell's text is cut after this many lines (a comment of a thousand words stays readable
/// in the CSV; the page shows its start).
const MAX_CELL_LINES: usize = 40;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

fn font(face: Face) -> Name<'static> {
    match face {
        Face::Regular => REGULAR,
        Face::Bold => BOLD,
    }
}

/// Pages being filled, top to bottom.
struct Layout {
    width: f32,
    height: f32,
    pages: Vec<Content>,
    /// Where the next block starts, measured from the bottom of the page.
    y: f32,
    /// Nothing has been drawn on the current page yet.
    fresh: bool,
}

impl Layout {
    fn new(orientation: Orientation) -> Self {
        let (width, height) = match orientation {
            Orientation::Portrait => A4,
            Orientation::Landscape => (A4.1, A4.0),
        };
        let mut layout = Self {
            width,
            height,
            pages: Vec::new(),
            y: 0.0,
            fresh: true,
        };
        layout.new_page();
        layout
    }

    fn inner_width(&self) -> f32 {
        self.width - 2.0 * MARGIN
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = self.height - MARGIN;
        self.fresh = true;
    }

    /// Starts a new page unless `height` fits on this one (or this one is still empty, where
    /// a new page would not help).
    fn ensure(&mut self, height: f32) {
        if self.y - height < BOTTOM && !self.fresh {
            self.new_page();
        }
    }

    fn page(&mut self) -> &mut Content {
        self.fresh = false;
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(&mut self, x: f32, baseline: f32, face: Face, size: f32, text: &str) {
        let bytes = win_ansi(text);
        self.page()
            .begin_text()
            .set_font(font(face), size)
            .next_line(x, baseline)
            .show(Str(&bytes))
            .end_text();
    }

    fn lines(&mut self, x: f32, face: Face, size: f32, leading: f32, lines: &[String]) {
        for line in lines {
            self.ensure(leading);
            self.y -= leading;
            self.text(x, self.y + (leading - size), face, size, line);
        }
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Heading(text) => {
                // Keep a heading with at least a few lines of what follows it.
                self.ensure(HEADING_SIZE + 8.0 + 4.0 * CELL_LEADING);
                self.y -= 8.0;
                let lines = wrap(text, Face::Bold, HEADING_SIZE, self.inner_width());
                self.lines(MARGIN, Face::Bold, HEADING_SIZE, HEADING_SIZE + 4.0, &lines);
                self.y -= 2.0;
            }
            Block::Text(text) => {
                let lines = wrap(text, Face::Regular, TEXT_SIZE, self.inner_width());
                self.lines(MARGIN, Face::Regular, TEXT_SIZE, TEXT_LEADING, &lines);
                self.y -= 4.0;
            }
            Block::Facts(facts) => self.facts(facts),
            Block::Table(table) => self.table(table),
            Block::PageBreak => {
                if !self.fresh {
                    self.new_page();
                }
            }
        }
    }

    fn facts(&mut self, facts: &[(String, String)]) {
        let label_width = facts
            .iter()
            .map(|(label, _)| width(label, Face::Bold, TEXT_SIZE))
            .fold(0.0_f32, f32::max)
            .min(self.inner_width() * 0.4)
            + 10.0;
        for (label, value) in facts {
            let values = wrap(
                value,
                Face::Regular,
                TEXT_SIZE,
                self.inner_width() - label_width,
            );
            let labels = wrap(label, Face::Bold, TEXT_SIZE, label_width - 10.0);
            let rows = values.len().max(labels.len());
            for i in 0..rows {
                self.ensure(TEXT_LEADING);
                self.y -= TEXT_LEADING;
                let baseline = self.y + (TEXT_LEADING - TEXT_SIZE);
                if let Some(label) = labels.get(i) {
                    self.text(MARGIN, baseline, Face::Bold, TEXT_SIZE, label);
                }
                if let Some(value) = values.get(i) {
                    self.text(
                        MARGIN + label_width,
                        baseline,
                        Face::Regular,
                        TEXT_SIZE,
                        value,
                    );
                }
            }
        }
        self.y -= 6.0;
    }

    fn table(&mut self, table: &Table) {
        let total: f32 = table.columns.iter().map(|c| c.weight.max(0.1)).sum();
        let widths: Vec<f32> = table
            .columns
            .iter()
            .map(|c| c.weight.max(0.1) / total * self.inner_width())
            .collect();
        let header: Vec<String> = table.columns.iter().map(|c| c.title.clone()).collect();
        self.y -= 4.0;
        self.ensure(row_height(&widths, &header, Face::Bold, 0.0) * 2.0);
        self.row(table, &widths, &header, Face::Bold, 0.0);
        for cells in &table.rows {
            let height = row_height(&widths, cells, Face::Regular, table.min_row_height);
            if self.y - height < BOTTOM {
                self.new_page();
                self.row(table, &widths, &header, Face::Bold, 0.0);
            }
            self.row(table, &widths, cells, Face::Regular, table.min_row_height);
        }
        self.y -= 8.0;
    }

    /// Draws one row at the cursor: its cells' text and borders (a header row shaded).
    fn row(&mut self, table: &Table, widths: &[f32], cells: &[String], face: Face, min: f32) {
        let available = self.y - BOTTOM;
        let height = row_height(widths, cells, face, min).min(available.max(CELL_LEADING));
        let top = self.y;
        let mut x = MARGIN;
        let max_lines = ((height - 2.0 * CELL_PAD) / CELL_LEADING).floor().max(1.0);
        for ((column, width), cell) in table.columns.iter().zip(widths).zip(cells) {
            if face == Face::Bold {
                self.page()
                    .set_fill_gray(0.9)
                    .rect(x, top - height, *width, height)
                    .fill_nonzero()
                    .set_fill_gray(0.0);
            }
            self.page()
                .set_line_width(0.5)
                .rect(x, top - height, *width, height)
                .stroke();
            let lines = cell_lines(cell, face, *width);
            for (i, line) in lines.iter().enumerate() {
                #[allow(clippy::cast_precision_loss, reason = "at most MAX_CELL_LINES")]
                let i = i as f32;
                if i >= max_lines {
                    break;
                }
                let baseline = top - CELL_PAD - CELL_SIZE - i * CELL_LEADING + 2.0;
                let left = if column.numeric {
                    x + width - CELL_PAD - self::width(line, face, CELL_SIZE)
                } else {
                    x + CELL_PAD
                };
                self.text(left, baseline, face, CELL_SIZE, line);
            }
            x += width;
        }
        self.y = top - height;
    }
}

fn cell_lines(cell: &str, face: Face, width: f32) -> Vec<String> {
    let mut lines = wrap(cell, face, CELL_SIZE, width - 2.0 * CELL_PAD);
    if lines.len() > MAX_CELL_LINES {
        lines.truncate(MAX_CELL_LINES);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
}

fn row_height(widths: &[f32], cells: &[String], face: Face, min: f32) -> f32 {
    let lines = widths
        .iter()
        .zip(cells)
        .map(|(width, cell)| cell_lines(cell, face, *width).len())
        .max()
        .unwrap_or(1);
    #[allow(clippy::cast_precision_loss, reason = "at most MAX_CELL_LINES")]
    let lines = lines as f32;
    (lines * CELL_LEADING + 2.0 * CELL_PAD).max(min)
}

pub(crate) fn render(document: &Document) -> Vec<u8> {
    let mut layout = Layout::new(document.orientation);
    let title = wrap(
        &document.title,
        Face::Bold,
        TITLE_SIZE,
        layout.inner_width(),
    );
    layout.lines(MARGIN, Face::Bold, TITLE_SIZE, TITLE_SIZE + 4.0, &title);
    layout.y -= 6.0;
    for block in &document.blocks {
        layout.block(block);
    }
    let count = layout.pages.len();
    for (n, page) in layout.pages.iter_mut().enumerate() {
        let number = win_ansi(&format!("Page {} of {count}", n + 1));
        let footer = win_ansi(&document.footer);
        let right = layout.width
            - MARGIN
            - width(&format!("Page {} of {count}", n + 1), Face::Regular, 8.0);
        page.begin_text()
            .set_font(REGULAR, 8.0)
            .next_line(MARGIN, FOOTER_Y)
            .show(Str(&footer))
            .end_text();
        page.begin_text()
            .set_font(REGULAR, 8.0)
            .next_line(right, FOOTER_Y)
            .show(Str(&number))
            .end_text();
    }
    write(document, layout)
}

fn write(document: &Document, layout: Layout) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let ids: Vec<(Ref, Ref)> = (0..layout.pages.len())
        .map(|i| {
            let i = i32::try_from(i).unwrap_or(i32::MAX / 2 - 6);
            (Ref::new(6 + 2 * i), Ref::new(7 + 2 * i))
        })
        .collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(ids.len()).unwrap_or(i32::MAX));
    for (id, name) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr(&document.title))
        .creator(TextStr("Trellis"));
    for ((page_id, contents), content) in ids.iter().zip(layout.pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, layout.width, layout.height));
        page.parent(tree);
        page.contents(*contents);
        let mut resources = page.resources();
        resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
        resources.finish();
        page.finish();
        pdf.stream(*contents, &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use crate::{Block, Column, Document, Orientation, Table};

    fn text_of(bytes: &[u8]) -> (usize, String) {
        let doc = lopdf::Document::load_mem(bytes).expect("a PDF lopdf reads");
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        let text = doc.extract_text(&pages).expect("text");
        (pages.len(), text)
    }

    #[test]
    fn a_long_table_breaks_pages_and_every_row_is_printed() {
        let mut doc = Document::new("Delegate list", Orientation::Landscape).footer("Trellis");
        doc.push(Block::Facts(vec![("Session".into(), "Phonics".into())]));
        let mut table = Table::new(vec![
            Column::number("#", 0.5),
            Column::text("Name", 3.0),
            Column::text("Signature", 3.0),
        ]);
        table.min_row_height = 24.0;
        for i in 1..=60 {
            table.row(vec![
                i.to_string(),
                format!("Delegate {i:02}"),
                String::new(),
            ]);
        }
        doc.push(Block::Table(table));
        let bytes = doc.pdf();
        assert!(bytes.starts_with(b"%PDF-"));
        let (pages, text) = text_of(&bytes);
        assert!(pages >= 3, "{pages} pages");
        for i in 1..=60 {
            assert!(text.contains(&format!("Delegate {i:02}")), "row {i}");
        }
        assert!(text.contains(&format!("Page {pages} of {pages}")));
        assert_eq!(bytes, doc.pdf(), "the same document every time");
    }

    #[test]
    fn page_breaks_and_long_text_lay_out() {
        let mut doc = Document::new("Report", Orientation::Portrait);
        doc.push(Block::Heading("Part 1".into()));
        doc.push(Block::Text("word ".repeat(2000)));
        doc.push(Block::PageBreak);
        doc.push(Block::Heading("Part 2 – Zoë’s".into()));
        let (pages, text) = text_of(&doc.pdf());
        assert!(pages >= 3, "{pages}");
        assert!(text.contains("Part 2"));
    }
}
