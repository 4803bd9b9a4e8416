//! The CSV writer: UTF-8 with a byte-order mark (so Excel reads Chinese names), CRLF lines,
//! formula-like text neutralised.

use std::io::Write;

use super::write::{Out, Sink, finish};
use super::{Cell, ExportError, Layout, neutralize};

/// Writes the header and `rows`; returns how many rows were written.
pub(super) fn write(
    mut w: Out,
    rows: &mut dyn Iterator<Item = Vec<Cell>>,
    Sink { layout, step, err }: Sink<'_>,
) -> Result<u64, ExportError> {
    w.write_all(b"\xEF\xBB\xBF").map_err(err)?;
    let mut done = 0u64;
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(w);
    csv.write_record(layout.headers())
        .map_err(|e| err(e.into()))?;
    let mut record: Vec<String> = Vec::with_capacity(layout.columns.len());
    for row in rows {
        record.clear();
        record.extend(row.iter().map(|c| layout.csv_text(c)));
        csv.write_record(&record).map_err(|e| err(e.into()))?;
        done += 1;
        step(done)?;
    }
    let w = csv
        .into_inner()
        .map_err(|e| err(std::io::Error::other(e.to_string())))?;
    finish(w, err)?;
    Ok(done)
}

impl Layout {
    /// A cell as CSV text: the one rule for the export file and the CLI's `--format csv`.
    pub fn csv_text(&self, cell: &Cell) -> String {
        match cell {
            Cell::Text(s) => neutralize(s).into_owned(),
            Cell::Int(i) => i.to_string(),
            Cell::Cny(f) => self.cny_text(*f),
            Cell::Crypto(a) => a.to_string(),
            Cell::Time(ms) => self.time_text(*ms),
            Cell::Empty => String::new(),
        }
    }
}
