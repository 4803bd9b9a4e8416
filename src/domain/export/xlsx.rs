//! The XLSX writer: amounts as numbers with two decimals, times as dates, a frozen header,
//! formula-like text kept as typed text.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use rust_xlsxwriter::{Format, Workbook};

use super::write::{Sink, finish_file};
use super::{AmountUnit, Cell, ExportError, looks_like_formula};

/// The nearest double to an exact decimal. Every amount of at most 15 significant digits
/// reads back as the same decimal (the shortest representation of this double is that
/// decimal), which is what Excel stores and shows; the test below holds it to that.
fn spreadsheet_number(decimal_text: &str) -> f64 {
    decimal_text.parse::<f64>().unwrap_or(f64::NAN)
}

/// Writes the workbook to `path`; returns how many rows were written.
pub(super) fn write(
    path: &Path,
    rows: &mut dyn Iterator<Item = Vec<Cell>>,
    sink: Sink<'_>,
) -> Result<u64, ExportError> {
    let Sink { layout, step, err } = sink;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory();
    let e = |x: rust_xlsxwriter::XlsxError| err(std::io::Error::other(x.to_string()));
    sheet.set_name("Export").map_err(e)?;
    let header = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let whole = Format::new().set_num_format("0");
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let typed_text = Format::new().set_quote_prefix();
    for (c, h) in layout.headers().iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, h, &header)
            .map_err(e)?;
        let width = match layout.columns[c].as_str() {
            "created" | "updated" | "finished" => 20.0,
            "address" | "tx_id" | "err_msg" => 44.0,
            _ => 16.0,
        };
        sheet.set_column_width(c as u16, width).map_err(e)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(e)?;
    let mut done = 0u64;
    for (r, row) in rows.into_iter().enumerate() {
        let r = (r + 1) as u32;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                // Text cells are always string cells, never formulas, holding the exact
                // text. One that looks like a formula also gets Excel's quote prefix (as
                // if typed with a leading `'`), so editing the cell cannot turn it into one.
                Cell::Text(s) if looks_like_formula(&s) => {
                    sheet
                        .write_string_with_format(r, c, &s, &typed_text)
                        .map_err(e)?;
                }
                Cell::Text(s) => {
                    sheet.write_string(r, c, &s).map_err(e)?;
                }
                Cell::Int(i) => {
                    sheet
                        .write_number_with_format(r, c, i as f64, &whole)
                        .map_err(e)?;
                }
                Cell::Cny(f) => match layout.unit {
                    AmountUnit::Yuan => {
                        sheet
                            .write_number_with_format(
                                r,
                                c,
                                spreadsheet_number(&f.yuan_plain()),
                                &money,
                            )
                            .map_err(e)?;
                    }
                    AmountUnit::Fen => {
                        sheet
                            .write_number_with_format(r, c, f.fen() as f64, &whole)
                            .map_err(e)?;
                    }
                },
                // Crypto amounts carry up to 18 places: kept as exact text.
                Cell::Crypto(a) => {
                    sheet.write_string(r, c, a.to_string()).map_err(e)?;
                }
                Cell::Time(ms) => {
                    if let Ok(ts) = jiff::Timestamp::from_millisecond(ms) {
                        let dt = ts.to_zoned(layout.tz.clone()).datetime();
                        sheet
                            .write_datetime_with_format(r, c, dt, &date)
                            .map_err(e)?;
                    }
                }
                Cell::Empty => {}
            }
        }
        done += 1;
        step(done)?;
    }
    let file = File::create(path).map_err(err)?;
    let mut w = BufWriter::new(file);
    book.save_to_writer(&mut w).map_err(e)?;
    finish_file(w, err)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;

    #[test]
    fn amounts_reach_the_sheet_as_the_same_decimal() {
        for fen in [
            1,
            10,
            99,
            100,
            12_345,
            99_999_999_999,
            123_456_789_012_345,
            -5,
        ] {
            let text = Fen::from_fen(fen).yuan_plain();
            let n = spreadsheet_number(&text);
            let back = format!("{n}");
            let expect = text.trim_end_matches('0').trim_end_matches('.');
            assert_eq!(back.trim_end_matches(".0"), expect, "{fen}");
        }
    }
}
