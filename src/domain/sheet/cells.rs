//! The rules for what a typed cell may hold when it becomes an amount, an account number or
//! a name: a value Excel already rounded or reformatted is refused, never guessed.

use super::{Cell, column_letters};
use crate::money::GATEPAY_MAX_PLACES;

/// The first cell of a data row beyond the header's `width` that holds something, with why
/// that is refused: the row does not line up with the header (in a CSV, often an unquoted
/// comma such as `1,234.56`), so which cell is which cannot be known.
pub fn beyond_header(cells: &[Cell], width: usize) -> Option<(usize, String)> {
    let i = cells
        .iter()
        .enumerate()
        .skip(width)
        .find(|(_, c)| !c.is_blank())?
        .0;
    Some((
        i,
        format!(
            "this cell is beyond the header's last column {}: the row has more cells than the \
             header, so its cells may have moved (an unquoted comma, as in 1,234.56?): quote \
             the value, or remove the cell",
            column_letters(u32::try_from(width.max(1) - 1).unwrap_or(u32::MAX))
        ),
    ))
}

/// Text for a name, bank, branch, ID or similar field: text cells as they are; a whole number
/// Excel can hold exactly (at most 15 digits) as its digits; anything else is refused.
pub fn text_value(cell: &Cell) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { text } if text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(text.clone())
        }
        Cell::Number { .. } => Err(format!(
            "{}: format the column as text and type it again",
            cell.describe()
        )),
        other => Err(refused(other, "text")),
    }
}

/// An account number (CNY) or an address (GatePay) must be a text cell: a number has already
/// lost its digits beyond the 15th, or its leading zeros, when Excel stored it.
pub fn account_value(cell: &Cell) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { .. } => Err(format!(
            "{}: Excel keeps only 15 digits of a number: format the column as text and type it again",
            cell.describe()
        )),
        other => Err(refused(other, "text")),
    }
}

/// The text of a CNY amount: a text cell, or a number whose value is exact in fen (plain digits
/// with at most two decimals). A stored text longer than Excel's own precision of 15
/// significant digits (`1234.5599999999999`, which Excel shows and computes with as `1234.56`)
/// is read at that precision, by decimal arithmetic on the text; what still has more decimals
/// is refused, never rounded to fen.
pub fn yuan_value(cell: &Cell) -> Result<String, String> {
    decimal_value(cell, 2)
}

/// The text of a GatePay amount: a text cell, or a number stored as plain digits with at most
/// six decimals (never an exponent form such as `1E-7`).
pub fn crypto_value(cell: &Cell) -> Result<String, String> {
    decimal_value(cell, GATEPAY_MAX_PLACES as usize)
}

fn decimal_value(cell: &Cell, places: usize) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { text } => {
            // A sign passes through, so the amount rules say what is wrong with it.
            let unsigned = text.strip_prefix('-').unwrap_or(text);
            let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
            let plain = !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit());
            if plain && frac.len() <= places {
                Ok(text.clone())
            } else if let Some(shown) = plain
                .then(|| at_excel_precision(whole, frac))
                .flatten()
                .filter(|t| t.split_once('.').is_none_or(|(_, f)| f.len() <= places))
            {
                Ok(if text.starts_with('-') {
                    format!("-{shown}")
                } else {
                    shown
                })
            } else {
                Err(format!(
                    "{}, which is not an exact amount with at most {places} decimals: \
                     type the amount again, or format the column as text",
                    cell.describe()
                ))
            }
        }
        other => Err(refused(other, "number or text")),
    }
}

/// Excel keeps 15 significant digits of a number. A stored text with more (`9805.7199999999993`)
/// is rounded to 15, half away from zero, on its decimal digits (no float), and trailing zeros
/// of the fraction dropped: `9805.72`. `None` when the text has 15 significant digits or fewer
/// (it is then exactly what Excel holds).
fn at_excel_precision(whole: &str, frac: &str) -> Option<String> {
    const EXCEL_DIGITS: usize = 15;
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(frac.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut point = whole.len();
    let first = digits.iter().position(|d| *d != 0)?;
    if digits.len() - first <= EXCEL_DIGITS {
        return None;
    }
    let keep = first + EXCEL_DIGITS;
    let round_up = digits[keep] >= 5;
    digits.truncate(keep);
    if round_up {
        let mut i = keep;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                point += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    // Digits cut off before the point stand for zeros.
    while digits.len() < point {
        digits.push(0);
    }
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (w, f) = text.split_at(point);
    let w = w.trim_start_matches('0');
    let w = if w.is_empty() { "0" } else { w };
    let f = f.trim_end_matches('0');
    Some(if f.is_empty() {
        w.to_owned()
    } else {
        format!("{w}.{f}")
    })
}

fn refused(cell: &Cell, wanted: &str) -> String {
    format!("{}: format the column as {wanted}", cell.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Excel shows at its 15 digits is the amount; more decimals than that are refused.
    #[test]
    fn amounts_stored_past_excels_precision_are_read_as_excel_shows_them() {
        let n = |t: &str| Cell::Number { text: t.into() };
        assert_eq!(yuan_value(&n("9805.7199999999993")).unwrap(), "9805.72");
        assert_eq!(yuan_value(&n("1234.5599999999999")).unwrap(), "1234.56");
        assert_eq!(yuan_value(&n("0.30000000000000004")).unwrap(), "0.3");
        assert_eq!(yuan_value(&n("99.999999999999999")).unwrap(), "100");
        assert_eq!(yuan_value(&n("-5.0000000000000001")).unwrap(), "-5");
        // Within 15 digits the text is what Excel holds: three decimals stay refused.
        assert!(yuan_value(&n("1234.567")).is_err());
        assert!(yuan_value(&n("1234.5670000000001")).is_err());
        assert_eq!(crypto_value(&n("1.1000000000000001")).unwrap(), "1.1");
        assert!(crypto_value(&n("0.12345670000000001")).is_err());
    }

    #[test]
    fn finding_2_cell_rules() {
        let date = Cell::Date("2026-01-01".into());
        assert_eq!(
            yuan_value(&date).unwrap_err(),
            "a date, 2026-01-01: format the column as number or text"
        );
        let n = |t: &str| Cell::Number { text: t.into() };
        assert_eq!(yuan_value(&n("1234.5")).unwrap(), "1234.5");
        assert_eq!(yuan_value(&n("-5")).unwrap(), "-5");
        assert!(yuan_value(&n("1234.567")).is_err());
        assert!(yuan_value(&n("1E+3")).is_err());
        assert!(
            account_value(&n("6.2220212345678899E+18"))
                .unwrap_err()
                .contains("Excel keeps only 15 digits")
        );
        assert!(account_value(&n("6216667451674374")).is_err());
        assert_eq!(crypto_value(&n("0.123456")).unwrap(), "0.123456");
        assert!(crypto_value(&n("1E-7")).is_err());
        assert!(crypto_value(&n("0.1234567")).is_err());
        assert!(yuan_value(&Cell::Formula(Box::new(n("1")))).is_err());
        assert!(yuan_value(&Cell::Bool(true)).is_err());
        assert_eq!(text_value(&n("12345")).unwrap(), "12345");
        assert!(text_value(&n("1.5")).is_err());
    }
}
