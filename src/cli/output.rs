//! Text output that is safe for terminals and spreadsheets: control and bidi characters made
//! visible, CJK width respected in tables, formula-looking CSV cells neutralised.

/// Text with the characters that reorder or hide text shown as `\u{202e}` escapes: the
/// domain's rule ([`paydesk::domain::text::shown`]), the same one the console shows text by.
pub fn terminal_safe(text: &str) -> String {
    paydesk::domain::text::shown(text).0.into_owned()
}

/// Columns a character takes on a terminal: CJK and full-width forms take two.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115f
        | 0x2e80..=0xa4cf
        | 0xac00..=0xd7a3
        | 0xf900..=0xfaff
        | 0xfe30..=0xfe4f
        | 0xff00..=0xff60
        | 0xffe0..=0xffe6
        | 0x20000..=0x3fffd => 2,
        _ => 1,
    }
}

pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

fn fit(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        if w + char_width(c) + 1 > max {
            break;
        }
        w += char_width(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// A column: header, whether numbers align right, and the widest it may grow.
pub struct Column {
    pub header: &'static str,
    pub right: bool,
    pub max: usize,
}

impl Column {
    /// A column read from the left, cut at `max` characters.
    pub const fn left(header: &'static str, max: usize) -> Column {
        Column {
            header,
            right: false,
            max,
        }
    }

    /// A column of figures, aligned to the right, cut at `max` characters.
    pub const fn right(header: &'static str, max: usize) -> Column {
        Column {
            header,
            right: true,
            max,
        }
    }
}

/// `items` as a table, one row each, its cells made by `row` in the order of `columns`.
pub fn table<T>(columns: &[Column], items: &[T], row: impl Fn(&T) -> Vec<String>) -> String {
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .zip(columns)
                .map(|(c, col)| fit(&terminal_safe(c), col.max))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            cells
                .iter()
                .map(|r| width(&r[i]))
                .max()
                .unwrap_or(0)
                .max(width(col.header))
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, values: Vec<&str>| {
        let mut parts = Vec::with_capacity(values.len());
        for ((v, col), w) in values.iter().zip(columns).zip(&widths) {
            let pad = " ".repeat(w.saturating_sub(width(v)));
            parts.push(if col.right {
                format!("{pad}{v}")
            } else {
                format!("{v}{pad}")
            });
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut out, columns.iter().map(|c| c.header).collect());
    for r in &cells {
        line(&mut out, r.iter().map(String::as_str).collect());
    }
    out
}

/// One CSV cell: a value that a spreadsheet would run as a formula gets a leading `'`;
/// quotes, commas and line breaks are quoted.
pub fn csv_cell(value: &str) -> String {
    let neutral = paydesk::domain::export::neutralize(value);
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral.into_owned()
    }
}

pub fn csv_line(values: &[String]) -> String {
    let cells: Vec<String> = values.iter().map(|v| csv_cell(v)).collect();
    cells.join(",")
}

/// `1,234` for counts.
pub fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_is_defused() {
        assert_eq!(terminal_safe("\u{202e}abc\t"), "\\u{202e}abc\\u{9}");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_cell("\t=x"), "'\t=x");
        assert_eq!(width("王小明ab"), 8);
        assert_eq!(count(1_234_567), "1,234,567");
    }

    /// Zero-width characters hide text as bidi controls do: the CLI escapes by the domain's
    /// rule, so it and the console show a received name the same way.
    #[test]
    fn the_cli_escapes_by_the_domain_rule() {
        // Zero-width characters hide text too; the console and the CLI escape the same set.
        assert_eq!(terminal_safe("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
        let name = "\u{202e}王小明\u{202c} gnp.exe";
        assert_eq!(terminal_safe(name), paydesk::domain::text::shown(name).0);
    }
}
