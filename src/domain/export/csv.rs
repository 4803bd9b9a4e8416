//! The CSV writer: UTF-8 with a byte-order mark (so Excel reads Chinese names), CRLF lines,
//! formula-like text neutralised. Each row's cells are written into one reused buffer, so a
//! row costs no allocation here.

use std::fmt::Write as _;
use std::io::Write;

use super::write::{Out, Sink, finish};
use super::{AmountUnit, Cell, ExportError, Layout, looks_like_formula};
use crate::money::Fen;

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
        .buffer_capacity(1 << 16)
        .from_writer(w);
    csv.write_record(layout.headers())
        .map_err(|e| err(e.into()))?;
    let mut text = String::with_capacity(512);
    let mut ends: Vec<usize> = Vec::with_capacity(layout.columns.len());
    for row in rows {
        text.clear();
        ends.clear();
        for cell in &row {
            layout.push_csv_text(cell, &mut text);
            ends.push(text.len());
        }
        let bytes = text.as_bytes();
        let fields = ends.iter().scan(0, |start, &end| {
            let field = bytes.get(*start..end).unwrap_or_default();
            *start = end;
            Some(field)
        });
        csv.write_record(fields).map_err(|e| err(e.into()))?;
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
        let mut text = String::new();
        self.push_csv_text(cell, &mut text);
        text
    }

    /// Appends a cell's CSV text to `out` (see [`Layout::csv_text`]).
    fn push_csv_text(&self, cell: &Cell, out: &mut String) {
        // Writing into a `String` cannot fail, so the `fmt::Result`s below carry nothing.
        match cell {
            Cell::Text(s) => {
                if looks_like_formula(s) {
                    out.push('\'');
                }
                out.push_str(s);
            }
            Cell::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Cell::Cny(f) => push_cny(*f, self.unit, out),
            Cell::Crypto(a) => {
                let _ = write!(out, "{a}");
            }
            Cell::Time(ms) => self.push_time(*ms, out),
            Cell::Empty => {}
        }
    }

    /// `YYYY-MM-DD HH:MM:SS` in the layout's zone, written digit by digit; a year outside
    /// four digits (or a time out of range) takes the general formatter.
    fn push_time(&self, ms: i64, out: &mut String) {
        let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
            out.push_str(&self.time_text(ms));
            return;
        };
        let dt = self.tz.to_offset(ts).to_datetime(ts);
        let Ok(year) = u32::try_from(dt.year()) else {
            out.push_str(&self.time_text(ms));
            return;
        };
        if !(1000..=9999).contains(&year) {
            out.push_str(&self.time_text(ms));
            return;
        }
        push_digits(out, year / 100);
        push_digits(out, year % 100);
        out.push('-');
        push_digits(out, dt.month().unsigned_abs().into());
        out.push('-');
        push_digits(out, dt.day().unsigned_abs().into());
        out.push(' ');
        push_digits(out, dt.hour().unsigned_abs().into());
        out.push(':');
        push_digits(out, dt.minute().unsigned_abs().into());
        out.push(':');
        push_digits(out, dt.second().unsigned_abs().into());
    }
}

/// Two digits of `n` (below 100).
fn push_digits(out: &mut String, n: u32) {
    out.push(char::from(b'0' + u8::try_from(n / 10 % 10).unwrap_or(0)));
    out.push(char::from(b'0' + u8::try_from(n % 10).unwrap_or(0)));
}

/// An amount as [`Fen::yuan_plain`] or the plain fen count writes it.
fn push_cny(fen: Fen, unit: AmountUnit, out: &mut String) {
    let _ = match unit {
        AmountUnit::Yuan => {
            let abs = fen.fen().unsigned_abs();
            let sign = if fen.fen() < 0 { "-" } else { "" };
            write!(out, "{sign}{}.{:02}", abs / 100, abs % 100)
        }
        AmountUnit::Fen => write!(out, "{}", fen.fen()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::export::{ExportFormat, ExportKind};

    /// The fast writer against the general formatters it stands in for.
    #[test]
    fn cells_are_written_as_the_general_formatters_write_them() {
        for (tz_name, unit) in [
            ("Asia/Shanghai", AmountUnit::Yuan),
            ("America/New_York", AmountUnit::Fen),
            ("UTC", AmountUnit::Yuan),
        ] {
            let layout = Layout {
                kind: ExportKind::Payouts,
                format: ExportFormat::Csv,
                columns: ExportKind::Payouts.default_columns(),
                tz: jiff::tz::TimeZone::get(tz_name).unwrap(),
                tz_name: tz_name.to_owned(),
                unit,
            };
            for ms in [
                0,
                1_596_425_140_000,
                1_596_425_140_999,
                -1,
                -62_000_000_000_000,
                253_402_300_799_999,
                253_402_300_800_000,
                i64::MAX,
                i64::MIN,
                1_710_054_000_000,
            ] {
                assert_eq!(
                    layout.csv_text(&Cell::Time(ms)),
                    layout.time_text(ms),
                    "{tz_name} {ms}"
                );
            }
            for fen in [0, 1, 99, 100, -1, -150, 123_456, i64::MAX, i64::MIN] {
                assert_eq!(
                    layout.csv_text(&Cell::Cny(Fen::from_fen(fen))),
                    layout.cny_text(Fen::from_fen(fen)),
                    "{fen}"
                );
            }
            for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "张三", ""] {
                assert_eq!(
                    layout.csv_text(&Cell::Text(hostile.into())),
                    super::super::neutralize(hostile)
                );
            }
            assert_eq!(layout.csv_text(&Cell::Int(-42)), "-42");
            assert_eq!(layout.csv_text(&Cell::Empty), "");
        }
    }
}
