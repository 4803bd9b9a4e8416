//! Cell styles of an XLSX: which number format each style shows, so a date is known as a
//! date and an amount Excel shows rounded is known as rounded.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{attr, local};

/// What a number format makes of a numeric cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shown {
    Number,
    Date,
    /// A format with both a date and a time part (`m/d/yy h:mm`, `yyyy-mm-dd hh:mm:ss`): the
    /// time is shown even at midnight.
    DateTime,
    Time,
    /// A percentage, or thousands-scaling commas (`0.00,`).
    Scaled,
    /// A number shown with at most this many decimals (`#,##0` shows `1234.5` as `1,235`).
    Places(u8),
    /// A format whose positive section shows no digits (`;;;`, `"10.00"`), or picks its
    /// section by a condition (`[>100]…`): what is read in Excel is not the stored number.
    Unshown,
}

pub(super) fn builtin_format(id: u32) -> Shown {
    match id {
        // 14–17 and 22 are Excel's date formats; 27–36 and 50–58 the East Asian ones
        // (年月日), which a Chinese Excel uses for dates.
        22 => Shown::DateTime,
        14..=17 | 27..=36 | 50..=58 => Shown::Date,
        18..=21 | 45..=47 => Shown::Time,
        9 | 10 => Shown::Scaled,
        1 | 3 | 37 | 38 => Shown::Places(0),
        2 | 4 | 39 | 40 => Shown::Places(2),
        _ => Shown::Number,
    }
}

/// Whether a custom format code shows a date or a time: its tokens outside quotes, brackets
/// (except elapsed `[h]`, `[m]`, `[s]`) and escapes.
pub(super) fn custom_format(code: &str) -> Shown {
    let (mut date, mut time, mut month, mut scaled) = (false, false, false, false);
    // `General` or `@` shows the number itself; a condition may pick a section with no digits.
    let (mut general, mut condition) = (false, false);
    if code.trim().is_empty() {
        return Shown::Number;
    }
    // Digit placeholders before and after the decimal point, and whether it is scientific.
    let (mut whole, mut places, mut point, mut exponent) = (0u32, 0u8, false, false);
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        if skip_literal(c, &mut chars) {
            continue;
        }
        match c {
            '[' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    inner.push(d);
                }
                let l = inner.to_lowercase();
                if !l.is_empty() && l.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    time = true;
                }
                if l.starts_with(['<', '>', '=']) {
                    condition = true;
                }
            }
            ';' => break,
            '%' => scaled = true,
            '@' => general = true,
            '.' => point = true,
            '0' | '#' | '?' if point => places = places.saturating_add(1),
            '0' | '#' | '?' => whole += 1,
            // A comma not followed by a digit placeholder divides what is shown by 1,000.
            ',' if !matches!(chars.peek(), Some('0' | '#' | '?' | ',')) => scaled = true,
            'G' | 'g'
                if chars
                    .clone()
                    .take(6)
                    .collect::<String>()
                    .eq_ignore_ascii_case("eneral") =>
            {
                general = true;
                for _ in 0..6 {
                    chars.next();
                }
            }
            _ => match c.to_ascii_lowercase() {
                'y' | 'd' => date = true,
                'e' => exponent = true,
                'h' | 's' => time = true,
                'm' => month = true,
                _ => {}
            },
        }
    }
    if date && time {
        Shown::DateTime
    } else if date || (month && !time) {
        Shown::Date
    } else if condition || (!time && !point && whole == 0 && !general) {
        Shown::Unshown
    } else if time {
        Shown::Time
    } else if scaled {
        Shown::Scaled
    } else if !exponent && (point || whole > 0) {
        Shown::Places(places)
    } else {
        Shown::Number
    }
}

/// Passes over what a format code shows as it stands: quoted text, and the one character
/// after `\`, `_` or `*`. Whether `c` opened such a literal.
fn skip_literal(c: char, chars: &mut impl Iterator<Item = char>) -> bool {
    match c {
        '"' => {
            for d in chars.by_ref() {
                if d == '"' {
                    break;
                }
            }
            true
        }
        '\\' | '_' | '*' => {
            chars.next();
            true
        }
        _ => false,
    }
}

/// Whether a custom format hides a text cell: a fourth section without `@` shows something
/// else (or nothing) in place of the text (`;;;` shows nothing at all).
pub(super) fn hides_text(code: &str) -> bool {
    let mut sections = vec![String::new()];
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if skip_literal(c, &mut chars) {
            continue;
        }
        match c {
            ';' => sections.push(String::new()),
            c => {
                if let Some(last) = sections.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    sections.get(3).is_some_and(|text| !text.contains('@'))
}

/// Each cell style: what it makes of a number, and whether it hides a text.
pub(super) fn parse_styles(xml: &str) -> Vec<(Shown, bool)> {
    let mut custom: Vec<(u32, (Shown, bool))> = Vec::new();
    let mut xfs = Vec::new();
    let mut reader = Reader::from_str(xml);
    let mut in_xfs = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match local(&e).as_str() {
                "numFmt" => {
                    if let (Some(id), Some(code)) = (attr(&e, "numFmtId"), attr(&e, "formatCode")) {
                        custom.push((
                            id.parse().unwrap_or(0),
                            (custom_format(&code), hides_text(&code)),
                        ));
                    }
                }
                "cellXfs" => in_xfs = true,
                "xf" if in_xfs => {
                    let id: u32 = attr(&e, "numFmtId")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let shown = custom
                        .iter()
                        .find(|(c, _)| *c == id)
                        .map_or_else(|| (builtin_format(id), false), |(_, s)| *s);
                    xfs.push(shown);
                }
                _ => {}
            },
            Ok(Event::End(e)) if e.local_name().as_ref() == "cellXfs" => in_xfs = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    xfs
}

/// Serial date text → `2026-01-01` (and the time if there is one, always under a date-time
/// format); `None` if it is no date. Read from the decimal text, to the nearest second, with no
/// float: a time just before midnight that rounds up moves to the next day.
pub(super) fn serial_to_text(text: &str, shown: Shown, date1904: bool) -> Option<String> {
    let (days, secs) = serial_parts(text)?;
    let clock = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if shown == Shown::Time {
        return Some(clock);
    }
    let date = if date1904 {
        jiff::civil::date(1904, 1, 1).checked_add(jiff::Span::new().days(days))
    } else if days == 60 {
        return Some("1900-02-29".to_owned());
    } else if days < 60 {
        jiff::civil::date(1899, 12, 31).checked_add(jiff::Span::new().days(days))
    } else {
        jiff::civil::date(1899, 12, 30).checked_add(jiff::Span::new().days(days))
    }
    .ok()?;
    Some(if secs == 0 && shown != Shown::DateTime {
        date.to_string()
    } else {
        format!("{date} {clock}")
    })
}

/// `46358.5` → (46358 days, 43200 seconds): plain decimal digits only, below 3,000,000 days.
fn serial_parts(text: &str) -> Option<(i64, i64)> {
    const DAY: i128 = 86_400;
    let text = text.trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || whole.len() > 7
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let mut days: i64 = whole.parse().ok()?;
    if days >= 3_000_000 {
        return None;
    }
    // Beyond 18 decimals a digit moves the time by far less than a second.
    let frac = &frac[..frac.len().min(18)];
    let scale = 10i128.pow(u32::try_from(frac.len()).ok()?);
    let numerator: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let mut secs = i64::try_from((numerator * DAY + scale / 2) / scale).ok()?;
    if secs >= 86_400 {
        days += 1;
        secs -= 86_400;
    }
    Some((days, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_tell_dates() {
        assert_eq!(custom_format("yyyy-mm-dd"), Shown::Date);
        assert_eq!(custom_format("[h]:mm:ss"), Shown::Time);
        assert_eq!(custom_format("mm:ss"), Shown::Time);
        assert_eq!(custom_format("#,##0.00\"d\""), Shown::Places(2));
        assert_eq!(custom_format("0.00E+00"), Shown::Number);
        assert_eq!(custom_format("General"), Shown::Number);
        assert_eq!(custom_format("[$-804]yyyy\"年\"m\"月\""), Shown::Date);
        assert_eq!(custom_format("[Red]0.00"), Shown::Places(2));
        assert_eq!(custom_format("@"), Shown::Number);
        assert_eq!(custom_format("0.00;;;@"), Shown::Places(2));
        assert_eq!(custom_format("yyyy-mm-dd hh:mm:ss"), Shown::DateTime);
        assert_eq!(custom_format("yyyy/m/d h:mm"), Shown::DateTime);
        assert_eq!(builtin_format(22), Shown::DateTime);
        assert_eq!(builtin_format(14), Shown::Date);
    }

    #[test]
    fn serials_read_exactly_and_midnight_keeps_its_time_under_a_date_time_format() {
        let t = |s: &str, shown| serial_to_text(s, shown, false);
        assert_eq!(t("46359", Shown::DateTime).unwrap(), "2026-12-03 00:00:00");
        assert_eq!(t("46359", Shown::Date).unwrap(), "2026-12-03");
        assert_eq!(t("46359.5", Shown::Date).unwrap(), "2026-12-03 12:00:00");
        assert_eq!(
            t("46359.354166666664", Shown::DateTime).unwrap(),
            "2026-12-03 08:30:00"
        );
        // A hair before midnight rounds to the next day's 00:00:00, not to this day's.
        assert_eq!(
            t("46359.999999999993", Shown::DateTime).unwrap(),
            "2026-12-04 00:00:00"
        );
        assert_eq!(t("0.75", Shown::Time).unwrap(), "18:00:00");
        assert!(t("-1", Shown::Date).is_none());
        assert!(t("4.6E4", Shown::Date).is_none());
    }

    #[test]
    fn adv_formats_that_hide_the_number_are_unshown() {
        assert_eq!(custom_format(";;;"), Shown::Unshown);
        assert_eq!(custom_format("\"10.00\""), Shown::Unshown);
        assert_eq!(custom_format("[>100]\"small\";0.00"), Shown::Unshown);
        assert_eq!(custom_format("General;;"), Shown::Number);
        assert!(hides_text(";;;"));
        assert!(hides_text("0.00;-0.00;0;\"x\""));
        assert!(!hides_text("0.00;-0.00;0;@"));
        assert!(!hides_text("0.00;-0.00"));
        assert!(!hides_text("\";;;\"0"));
    }
}
