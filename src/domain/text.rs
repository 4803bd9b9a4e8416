//! Clean text: what may appear in a name, account, address, memo, ID or bank field before it is
//! sent. Control, bidi and zero-width characters are refused because they make one text look
//! like another (a U+202E turns “6222…1234” into something else on screen) or break the gateway's
//! signing; the refusal names the character and where it is.

use std::fmt;

/// A character that may not be sent, and where it is (1-based, counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub struct BadChar {
    pub position: usize,
    pub ch: char,
}

impl fmt::Display for BadChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {} is U+{:04X} {}",
            self.position,
            u32::from(self.ch),
            char_name(self.ch)
        )
    }
}

/// Whether a character is never allowed in text that is sent: C0 and C1 controls, DEL, bidi
/// controls and marks, zero-width characters, the byte-order mark and the Unicode line and
/// paragraph separators.
pub fn is_forbidden(ch: char) -> bool {
    ch.is_control()
        || matches!(
            ch,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Refuses text with a forbidden character, naming the first one and its position.
pub fn check_clean(text: &str) -> Result<(), BadChar> {
    match text.chars().enumerate().find(|(_, c)| is_forbidden(*c)) {
        Some((i, ch)) => Err(BadChar {
            position: i + 1,
            ch,
        }),
        None => Ok(()),
    }
}

/// A crypto address: clean, and no space of any kind inside it (a pasted address with a space or
/// line break in the middle is two texts, and no chain accepts it).
pub fn check_address(address: &str) -> Result<(), String> {
    let address = address.trim();
    check_clean(address).map_err(|e| e.to_string())?;
    match address.chars().enumerate().find(|(_, c)| c.is_whitespace()) {
        Some((i, c)) => Err(format!(
            "character {} is U+{:04X} {}: an address has no spaces or line breaks inside it",
            i + 1,
            u32::from(c),
            char_name(c)
        )),
        None => Ok(()),
    }
}

fn char_name(ch: char) -> &'static str {
    match ch {
        '\0' => "NULL",
        '\t' => "CHARACTER TABULATION (tab)",
        '\n' => "LINE FEED (new line)",
        '\r' => "CARRIAGE RETURN",
        ' ' => "SPACE",
        '\u{7F}' => "DELETE",
        '\u{85}' => "NEXT LINE",
        '\u{A0}' => "NO-BREAK SPACE",
        '\u{61C}' => "ARABIC LETTER MARK",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{2028}' => "LINE SEPARATOR",
        '\u{2029}' => "PARAGRAPH SEPARATOR",
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => "WORD JOINER",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{3000}' => "IDEOGRAPHIC SPACE",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE (byte-order mark)",
        c if c.is_control() => "a control character",
        c if c.is_whitespace() => "a space character",
        _ => "an invisible formatting character",
    }
}

/// Received text as it may be shown: every forbidden character (see [`is_forbidden`]) written as
/// a visible `\u{202e}` escape, so a name with a right-to-left override cannot pass for another
/// name on a screen, a terminal or in a log. The second value says whether anything was escaped,
/// so a screen can flag the text as well.
pub fn shown(text: &str) -> (std::borrow::Cow<'_, str>, bool) {
    use std::fmt::Write as _;
    if !text.chars().any(is_forbidden) {
        return (std::borrow::Cow::Borrowed(text), false);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_forbidden(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    (std::borrow::Cow::Owned(out), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_10_control_bidi_and_zero_width_are_refused_with_position() {
        assert_eq!(
            check_clean("王小\u{202E}头").unwrap_err().to_string(),
            "character 3 is U+202E RIGHT-TO-LEFT OVERRIDE"
        );
        assert_eq!(
            check_clean("abc\0").unwrap_err().to_string(),
            "character 4 is U+0000 NULL"
        );
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{7f}",
            "a\u{85}",
            "a\u{200B}b",
            "a\u{2066}",
            "a\u{FEFF}",
        ] {
            assert!(check_clean(bad).is_err(), "{bad:?}");
        }
        assert!(check_clean("王小头 Li-Na (北京)").is_ok());
    }

    #[test]
    fn finding_10_addresses_with_inner_spaces_or_newlines_are_refused() {
        assert!(check_address(" TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE ").is_ok());
        assert_eq!(
            check_address("TQn9Y2kh EsLJW").unwrap_err(),
            "character 9 is U+0020 SPACE: an address has no spaces or line breaks inside it"
        );
        assert!(
            check_address("TQn9\nY2kh")
                .unwrap_err()
                .contains("LINE FEED")
        );
        assert!(check_address("TQn9\u{3000}Y2kh").is_err());
    }

    #[test]
    fn shown_escapes_what_would_reorder_or_hide_text() {
        assert_eq!(
            shown("王小明"),
            (std::borrow::Cow::Borrowed("王小明"), false)
        );
        let (text, flagged) = shown("\u{202e}王小明\u{202c} gnp.exe");
        assert!(flagged);
        assert_eq!(text, "\\u{202e}王小明\\u{202c} gnp.exe");
        assert_eq!(shown("a\u{200b}b\t").0, "a\\u{200b}b\\u{9}");
    }
}
