//! The shared-strings part of an XLSX (every text cell points into it), bounded in count and
//! size, with Excel's `_xHHHH_` escapes undone.

use quick_xml::events::Event;

use super::{Zip, attr, open_stream, push_ref};
use crate::domain::sheet::{Limits, SheetError, TOO_LONG_RUN, TOO_LONG_STREAM};

/// Excel writes characters XML cannot carry as `_xHHHH_` (UTF-16 units), and a literal
/// `_x…_` as `_x005F_x…_`; undoing it lets the text rules see a hidden control character.
pub(super) fn unescape_excel(text: &str) -> String {
    if !text.contains("_x") {
        return text.to_owned();
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut plain_from = 0;
    let mut out = String::with_capacity(text.len());
    while i + 7 <= bytes.len() {
        if bytes[i] == b'_'
            && bytes[i + 1] == b'x'
            && bytes[i + 6] == b'_'
            && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
        {
            let hex = &text[i + 2..i + 6];
            if let Ok(unit) = u16::from_str_radix(hex, 16) {
                out.push_str(&text[plain_from..i]);
                units.clear();
                units.push(unit);
                i += 7;
                // A surrogate pair is two escapes in a row.
                while i + 7 <= bytes.len()
                    && bytes[i] == b'_'
                    && bytes[i + 1] == b'x'
                    && bytes[i + 6] == b'_'
                    && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
                    && (0xD800..0xDC00).contains(units.last().unwrap_or(&0))
                {
                    if let Ok(u) = u16::from_str_radix(&text[i + 2..i + 6], 16) {
                        units.push(u);
                    }
                    i += 7;
                }
                out.extend(
                    char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or('\u{FFFD}')),
                );
                plain_from = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[plain_from..]);
    out
}

/// Shared strings kept compactly: one text buffer and where each string ends.
pub(super) struct Shared {
    pub(super) text: String,
    pub(super) ends: Vec<u32>,
}

impl Shared {
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }
}

pub(super) fn read_shared(
    zip: &mut Zip<'_>,
    path: &str,
    limits: &Limits,
) -> Result<Shared, SheetError> {
    let mut shared = Shared {
        text: String::new(),
        ends: Vec::new(),
    };
    let Some(mut reader) = open_stream(zip, path, limits.max_shared_xml_bytes, limits)? else {
        return Ok(shared);
    };
    let mut buf = Vec::new();
    let mut cur = String::new();
    let (mut in_t, mut phonetic) = (false, 0u32);
    let refuse = |m: String| SheetError::file(format!("the workbook's shared text: {m}"));
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| refuse(stream_error(&e)))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "sst" => {
                    let declared: usize = attr(&e, "uniqueCount")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if declared > limits.max_shared_strings {
                        return Err(refuse(format!(
                            "it declares {declared} strings; at most {} are read",
                            limits.max_shared_strings
                        )));
                    }
                }
                "si" => cur.clear(),
                "rPh" => phonetic += 1,
                "t" if phonetic == 0 => in_t = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                cur.clear();
                push_shared(&mut shared, &cur, limits).map_err(refuse)?;
            }
            Event::Text(t) if in_t => {
                cur.push_str(&t);
                if cur.len() > limits.max_cell_chars * 4 {
                    return Err(refuse(TOO_LONG_RUN.to_owned()));
                }
            }
            Event::GeneralRef(r) if in_t => push_ref(&r, &mut cur),
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "rPh" => phonetic = phonetic.saturating_sub(1),
                "si" => {
                    let text = unescape_excel(&cur);
                    if text.chars().count() > limits.max_cell_chars {
                        return Err(refuse(TOO_LONG_RUN.to_owned()));
                    }
                    push_shared(&mut shared, &text, limits).map_err(refuse)?;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(shared)
}

pub(super) fn push_shared(shared: &mut Shared, text: &str, limits: &Limits) -> Result<(), String> {
    if shared.ends.len() >= limits.max_shared_strings
        || shared.text.len() + text.len() > limits.max_shared_text_bytes
    {
        return Err(format!(
            "more than {} strings or {} bytes of text",
            limits.max_shared_strings, limits.max_shared_text_bytes
        ));
    }
    shared.text.push_str(text);
    shared.ends.push(shared.text.len() as u32);
    Ok(())
}

pub(super) fn stream_error(e: &quick_xml::Error) -> String {
    let text = e.to_string();
    for known in [TOO_LONG_STREAM, TOO_LONG_RUN] {
        if text.contains(known) {
            return known.to_owned();
        }
    }
    format!("not a readable XLSX file: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sheet::{column_letters, parse_ref};
    #[test]
    fn excel_escapes_are_undone() {
        assert_eq!(unescape_excel("a_x000D_b"), "a\rb");
        assert_eq!(unescape_excel("_xD83D__xDCF7_"), "\u{1F4F7}");
        assert_eq!(unescape_excel("_x005F_x000D_"), "_x000D_");
        assert_eq!(unescape_excel("plain_x"), "plain_x");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(parse_ref("XFD1048576"), Some((16_383, 1_048_576)));
    }
}
