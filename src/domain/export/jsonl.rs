//! The JSON Lines writer: one object per row, exact decimals as JSON numbers, times with
//! their offset.

use std::io::Write;

use serde_json::{Map, Value};

use super::write::{Out, Sink, finish};
use super::{Cell, ExportError};

/// Writes `rows`, one object a line; returns how many rows were written.
pub(super) fn write(
    mut w: Out,
    rows: &mut dyn Iterator<Item = Vec<Cell>>,
    Sink { layout, step, err }: Sink<'_>,
) -> Result<u64, ExportError> {
    let mut done = 0u64;
    for row in rows {
        let mut obj = Map::new();
        for (key, c) in layout.columns.iter().zip(row) {
            let v = match c {
                Cell::Text(s) => Value::String(s),
                Cell::Int(i) => Value::from(i),
                // Exact decimals as JSON numbers (never through a float).
                Cell::Cny(f) => exact_number(&layout.cny_text(f)),
                Cell::Crypto(a) => exact_number(&a.to_string()),
                Cell::Time(ms) => Value::String(jiff::Timestamp::from_millisecond(ms).map_or_else(
                    |_| ms.to_string(),
                    |ts| {
                        ts.to_zoned(layout.tz.clone())
                            .strftime("%Y-%m-%dT%H:%M:%S%:z")
                            .to_string()
                    },
                )),
                Cell::Empty => Value::Null,
            };
            obj.insert(key.clone(), v);
        }
        serde_json::to_writer(&mut w, &Value::Object(obj)).map_err(|e| err(e.into()))?;
        w.write_all(b"\n").map_err(err)?;
        done += 1;
        step(done)?;
    }
    finish(w, err)?;
    Ok(done)
}

fn exact_number(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text)
        .map_or_else(|_| Value::String(text.to_owned()), Value::Number)
}
