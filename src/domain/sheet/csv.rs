//! The CSV reader: UTF-8 (with or without a byte-order mark), every cell text, every size
//! bounded while reading.

use std::ops::ControlFlow;

use super::{Bounded, Cell, Limits, SheetError, check_cell_len, too_far_right, too_many_rows};

pub(super) fn read_csv(
    bytes: &[u8],
    limits: &Limits,
    on_row: &mut dyn FnMut(usize, &[Cell]) -> ControlFlow<()>,
) -> Result<(), SheetError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let max_line = (limits.max_columns as usize + 1) * (limits.max_cell_chars * 4 + 3);
    let input = Bounded {
        inner: body,
        breaks: b"\n",
        run: 0,
        max_run: max_line,
        total: 0,
        max_total: u64::MAX,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => {
                let at = e.position().map_or(row + 1, |p| p.record() as usize + 1);
                let message = match e.kind() {
                    csv::ErrorKind::Io(io) => io.to_string(),
                    _ => format!("the CSV cannot be read: {e}"),
                };
                return Err(SheetError {
                    row: at,
                    column: None,
                    message,
                });
            }
        }
        row += 1;
        if row > limits.max_rows as usize {
            return Err(too_many_rows(row, limits));
        }
        cells.clear();
        for (i, field) in record.iter().enumerate() {
            let column = i as u32;
            if column >= limits.max_columns {
                if field.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Err(too_far_right(row, column, limits));
            }
            let text = std::str::from_utf8(field).map_err(|_| {
                SheetError::at(row, column, "not UTF-8 text: save the CSV as “CSV UTF-8”")
            })?;
            check_cell_len(text, row, column, limits)?;
            cells.push(if text.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(text.to_owned())
            });
        }
        if on_row(row, &cells).is_break() {
            return Ok(());
        }
    }
}
