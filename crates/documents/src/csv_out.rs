//! Tables as CSV, guarded against formula injection.

use crate::Table;

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell as a spreadsheet should show it: prefixed with `'` when it would otherwise
/// be read as a formula.
fn guarded(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(FORMULA_START) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

pub(crate) fn write(table: &Table) -> Vec<u8> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail, and every record has the header's length.
    let _ = out.write_record(table.columns.iter().map(|c| guarded(&c.title).into_owned()));
    for row in &table.rows {
        let _ = out.write_record(table.columns.iter().zip(row).map(|(column, cell)| {
            if column.numeric {
                cell.clone()
            } else {
                guarded(cell).into_owned()
            }
        }));
    }
    out.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::{Column, Table};

    #[test]
    fn quotes_and_guards_text_but_not_numbers() {
        let mut table = Table::new(vec![Column::text("Name", 1.0), Column::number("Net", 1.0)]);
        table.row(vec!["=HYPERLINK(\"x\")".into(), "-12.50".into()]);
        table.row(vec!["Smith, \"Jo\"".into(), "3".into()]);
        let text = String::from_utf8(table.csv()).expect("utf-8");
        assert_eq!(
            text,
            "Name,Net\r\n\"'=HYPERLINK(\"\"x\"\")\",-12.50\r\n\"Smith, \"\"Jo\"\"\",3\r\n"
        );
    }

    #[test]
    fn short_rows_are_padded() {
        let mut table = Table::new(vec![Column::text("A", 1.0), Column::text("B", 1.0)]);
        table.row(vec!["only".into()]);
        assert_eq!(table.csv(), b"A,B\r\nonly,\r\n".to_vec());
    }
}
