//! The fast path for the common order: a flat object (scalars only) read in one scan of its
//! text into (key, value token) slices, sorted by key, verified without building a map. Any
//! text this path is not sure of (a nested value, an escaped key, a repeated key, anything off
//! the grammar) is left to the exact reader, so both paths give the same answers.
#![deny(clippy::float_arithmetic)]

use std::borrow::Cow;

use super::check::Plain;
use super::verify::finish;
use super::{
    ExactError, ExactValue, Omission, SignOptions, Verification, ZeroFields, is_zero_text,
    parse_exact, verify_exact,
};
use crate::secret::Secret;

/// A scalar value as carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    Null,
    Bool(bool),
    /// The number token exactly as written.
    Number(&'a str),
    /// The string's value: borrowed from the text unless it held an escape.
    String(Cow<'a, str>),
}

impl Token<'_> {
    /// The text a scalar signs as: a string's value, a number's token, `true`/`false`.
    fn signed_text(&self) -> Option<&str> {
        match self {
            Token::Null => None,
            Token::Bool(b) => Some(if *b { "true" } else { "false" }),
            Token::Number(n) => Some(n),
            Token::String(s) => Some(s),
        }
    }
}

/// One field of a flat object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub key: &'a str,
    pub value: Token<'a>,
    /// The key's first sixteen bytes, big-endian and zero-padded: sorting compares these first
    /// (a key holds no zero byte, so the padding keeps byte order).
    prefix: u128,
}

/// Built from whole-word loads and register shifts: a short copy into a buffer read back as
/// one word stalls the load behind the copy's byte stores.
pub(super) fn prefix(key: &str) -> u128 {
    /// Up to seven bytes, big-endian and zero-padded into a word.
    fn pack(bytes: &[u8]) -> u64 {
        let word = bytes
            .iter()
            .fold(0u64, |word, &b| (word << 8) | u64::from(b));
        word.checked_shl(8 * (8 - bytes.len() as u32)).unwrap_or(0)
    }
    let bytes = key.as_bytes();
    if let Some(head) = bytes.first_chunk::<16>() {
        return u128::from_be_bytes(*head);
    }
    let (high, low) = match bytes.split_first_chunk::<8>() {
        Some((head, rest)) => (u64::from_be_bytes(*head), pack(rest)),
        None => (pack(bytes), 0),
    };
    (u128::from(high) << 64) | u128::from(low)
}

/// A field by key in fields sorted by [`scan_flat`].
pub fn field<'f, 'a>(fields: &'f [Field<'a>], key: &str) -> Option<&'f Token<'a>> {
    fields
        .binary_search_by(|f| f.key.as_bytes().cmp(key.as_bytes()))
        .ok()
        .and_then(|i| fields.get(i))
        .map(|f| &f.value)
}

/// Where the first byte that ends a plain run of string text is (`"`, `\\` or a control
/// character), eight bytes at a time: the lowest flagged byte of each word test is exact
/// (a false flag only ever follows a true one in the same word).
#[inline]
fn plain_run(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        let flags = zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| at + p)
}

/// Whether `a` and `b` are the same bytes: for a key's length (up to 32 bytes), two
/// overlapping word compares rather than a call to `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn words<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk::<N>()?, s.last_chunk::<N>()?))
    }
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0..4 => a == b,
        4..8 => {
            words::<4>(a).map(|(x, y)| (u32::from_ne_bytes(*x), u32::from_ne_bytes(*y)))
                == words::<4>(b).map(|(x, y)| (u32::from_ne_bytes(*x), u32::from_ne_bytes(*y)))
        }
        8..=16 => {
            words::<8>(a).map(|(x, y)| (u64::from_ne_bytes(*x), u64::from_ne_bytes(*y)))
                == words::<8>(b).map(|(x, y)| (u64::from_ne_bytes(*x), u64::from_ne_bytes(*y)))
        }
        17..=32 => {
            words::<16>(a).map(|(x, y)| (u128::from_ne_bytes(*x), u128::from_ne_bytes(*y)))
                == words::<16>(b).map(|(x, y)| (u128::from_ne_bytes(*x), u128::from_ne_bytes(*y)))
        }
        _ => a == b,
    }
}

/// How many ASCII digits `bytes` starts with, eight bytes at a time (a timestamp is ten).
#[inline]
fn digit_run(bytes: &[u8]) -> usize {
    const LOW: u64 = 0x0f0f_0f0f_0f0f_0f0f;
    const SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let w = u64::from_le_bytes(w);
        // Zero exactly in the bytes 0x30..=0x39: high nibble 3, low nibble below 10
        // (adding 6 to it carries into 0x10); no step carries from one byte to the next.
        let off = ((w & !LOW) ^ 0x3030_3030_3030_3030)
            | (((w & LOW) + 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010);
        let flags = (((off & SEVEN) + SEVEN) | off) & !SEVEN;
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + words
        .remainder()
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count()
}

/// A walk over JSON text that gives up (`None`) rather than judge anything unusual.
pub struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline]
    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Moves past `byte` (after any whitespace), or gives up.
    #[inline]
    pub fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_ws();
        (self.peek() == Some(byte)).then(|| self.pos += 1)
    }

    /// Whether `byte` comes next (after any whitespace), moving past it if so.
    #[inline]
    pub fn next_is(&mut self, byte: u8) -> bool {
        self.skip_ws();
        let yes = self.peek() == Some(byte);
        if yes {
            self.pos += 1;
        }
        yes
    }

    /// True when only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_ws();
        self.pos == self.text.len()
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn since(&self, start: usize) -> Option<&'a str> {
        self.text.get(start..self.pos)
    }

    /// A string token's raw contents (between the quotes) and whether it holds an escape.
    #[inline]
    fn raw_string(&mut self) -> Option<(&'a str, bool)> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut escaped = false;
        loop {
            // The plain run up to the next byte that needs a look, in one tight loop.
            let run = plain_run(bytes.get(self.pos..)?)?;
            self.pos += run;
            match *bytes.get(self.pos)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match *bytes.get(self.pos + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                        b'u' => {
                            let hex = bytes.get(self.pos + 2..self.pos + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos)?;
        self.pos += 1;
        Some((raw, escaped))
    }

    /// Moves past `bytes` if they come next (no whitespace skipped), comparing them as
    /// [`same_bytes`] does.
    #[inline]
    pub(super) fn take(&mut self, bytes: &[u8]) -> bool {
        let end = self.pos + bytes.len();
        let yes = self
            .text
            .as_bytes()
            .get(self.pos..end)
            .is_some_and(|next| same_bytes(next, bytes));
        if yes {
            self.pos = end;
        }
        yes
    }

    /// Moves past a key known beforehand, `quoted` with its quotes and holding no escape,
    /// and its `:`; or gives up.
    #[inline]
    pub(super) fn quoted_key(&mut self, quoted: &[u8]) -> Option<()> {
        self.skip_ws();
        let end = self.pos + quoted.len();
        same_bytes(self.text.as_bytes().get(self.pos..end)?, quoted).then(|| self.pos = end)?;
        self.eat(b':')
    }

    /// A key: a string without escapes (an escaped key is left to the exact reader).
    #[inline]
    pub fn key(&mut self) -> Option<&'a str> {
        match self.raw_string()? {
            (raw, false) => {
                self.eat(b':')?;
                Some(raw)
            }
            (_, true) => None,
        }
    }

    #[inline]
    fn digits(&mut self) -> usize {
        let start = self.pos;
        self.pos += digit_run(self.text.as_bytes().get(self.pos..).unwrap_or_default());
        self.pos - start
    }

    /// A number token, checked against the JSON grammar.
    #[inline]
    fn number(&mut self) -> Option<&'a str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        self.since(start)
    }

    #[inline]
    fn literal(&mut self, word: &str) -> Option<()> {
        self.text
            .get(self.pos..)
            .is_some_and(|t| t.starts_with(word))
            .then(|| self.pos += word.len())
    }

    /// A scalar value; `None` for an array or object (or anything off the grammar).
    pub fn scalar(&mut self) -> Option<Token<'a>> {
        self.skip_ws();
        match self.peek()? {
            b'"' => {
                let quote = self.pos;
                let (raw, escaped) = self.raw_string()?;
                if escaped {
                    // Only an escaped string is copied, decoded as `serde_json` decodes it.
                    serde_json::from_str::<String>(self.since(quote)?)
                        .ok()
                        .map(|s| Token::String(Cow::Owned(s)))
                } else {
                    Some(Token::String(Cow::Borrowed(raw)))
                }
            }
            b't' => self.literal("true").map(|()| Token::Bool(true)),
            b'f' => self.literal("false").map(|()| Token::Bool(false)),
            b'n' => self.literal("null").map(|()| Token::Null),
            b'-' | b'0'..=b'9' => self.number().map(Token::Number),
            _ => None,
        }
    }

    /// A scalar borrowed from the text as it is: `None` for an escaped string (left to
    /// [`Cursor::scalar`], which decodes it), an array or object, or anything off the grammar.
    // Inlined into its loop, its answer stays in registers: returned through memory, each
    // read of it waited on the stores that wrote it.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(super) fn plain_scalar(&mut self) -> Option<Plain<'a>> {
        self.skip_ws();
        match self.peek()? {
            b'"' => match self.raw_string()? {
                (raw, false) => Some(Plain::String(raw)),
                (_, true) => None,
            },
            b't' => self.literal("true").map(|()| Plain::Other("true")),
            b'f' => self.literal("false").map(|()| Plain::Other("false")),
            b'n' => self.literal("null").map(|()| Plain::Null),
            b'-' | b'0'..=b'9' => self.number().map(Plain::Other),
            _ => None,
        }
    }

    /// A flat object starting here: its fields into `out` (cleared first), sorted by key.
    /// `None` for a nested value, an escaped or repeated key, or anything off the grammar.
    pub fn flat_object(&mut self, out: &mut Vec<Field<'a>>) -> Option<()> {
        out.clear();
        self.eat(b'{')?;
        if !self.next_is(b'}') {
            loop {
                let key = self.key()?;
                let value = self.scalar()?;
                out.push(Field {
                    key,
                    value,
                    prefix: prefix(key),
                });
                if self.next_is(b'}') {
                    break;
                }
                self.eat(b',')?;
            }
        }
        out.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| a.key.as_bytes().cmp(b.key.as_bytes()))
        });
        if out.windows(2).any(|w| w[0].key == w[1].key) {
            return None;
        }
        Some(())
    }
}

/// The fields of `text` when it is a flat object this path reads (see [`Cursor::flat_object`]).
pub fn scan_flat<'a>(text: &'a str, out: &mut Vec<Field<'a>>) -> Option<()> {
    let mut cursor = Cursor::new(text);
    cursor.flat_object(out)?;
    cursor.at_end().then_some(())
}

/// Writes the canonical text of sorted fields into `out` (cleared first), telling `omit`
/// each field left out; gives the received `sign` (its text when not a string).
pub(super) fn canonical_into<'f>(
    fields: &'f [Field<'_>],
    options: SignOptions,
    out: &mut String,
    mut omit: impl FnMut(&str, Omission),
) -> Option<Result<&'f str, String>> {
    out.clear();
    let mut received = None;
    for f in fields {
        if f.key == "sign" {
            received = Some(match &f.value {
                Token::String(s) => Ok(s.as_ref()),
                other => Err(other.signed_text().unwrap_or("null").to_owned()),
            });
            omit(f.key, Omission::Sign);
            continue;
        }
        let why = match f.value.signed_text() {
            None => Omission::Null,
            Some("") => Omission::EmptyString,
            Some(t) if options.zero_fields == ZeroFields::Dropped && is_zero_text(t) => {
                Omission::Zero
            }
            Some(t) => {
                if !out.is_empty() {
                    out.push('&');
                }
                out.push_str(f.key);
                out.push('=');
                out.push_str(t);
                continue;
            }
        };
        omit(f.key, why);
    }
    received
}

/// Verifies the fields of a flat object (sorted, each key once, as [`scan_flat`] gives them):
/// the same verdict, canonical text and omissions as [`verify_exact`] on the same object.
pub fn verify_fields(fields: &[Field<'_>], key: &Secret, options: SignOptions) -> Verification {
    let size = fields
        .iter()
        .map(|f| f.key.len() + f.value.signed_text().map_or(0, str::len) + 2)
        .sum::<usize>();
    let mut canonical = String::with_capacity(size + 8);
    let mut omitted = Vec::new();
    let received = canonical_into(fields, options, &mut canonical, |k, why| {
        omitted.push((k.to_owned(), why));
    });
    finish(canonical, omitted, received, key, options)
}

/// Verifies one object from its text as carried: the fast path for a flat object, the exact
/// reader for anything else. A text that cannot be read one way only is unreadable.
pub fn verify_text(text: &str, key: &Secret, options: SignOptions) -> Verification {
    let mut fields = Vec::with_capacity(16);
    if scan_flat(text, &mut fields).is_some() {
        return verify_fields(&fields, key, options);
    }
    match parse_exact(text) {
        Ok(ExactValue::Object(o)) => verify_exact(&o, key, options),
        Ok(_) => Verification::unreadable(&ExactError::Syntax("not an object".to_owned())),
        Err(why) => Verification::unreadable(&why),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::gateway::cny::sign::Canonical;
    use crate::gateway::cny::sign::Verdict;
    use crate::gateway::cny::sign::check::{CheckScratch, SLOTS, check_text};
    use crate::gateway::cny::sign::tests::{all_options, arb_object_text};
    use proptest::prelude::*;

    pub(crate) fn exactly(text: &str, key: &Secret, options: SignOptions) -> Verification {
        match parse_exact(text) {
            Ok(ExactValue::Object(o)) => verify_exact(&o, key, options),
            Ok(_) => Verification::unreadable(&ExactError::Syntax("not an object".to_owned())),
            Err(why) => Verification::unreadable(&why),
        }
    }

    /// The text with a `sign` made over it by the exact path, so the fast path meets valid
    /// signatures too.
    pub(crate) fn signed(text: &str, key: &Secret, options: SignOptions) -> Option<String> {
        let Ok(ExactValue::Object(o)) = parse_exact(text) else {
            return None;
        };
        if o.contains_key("sign") {
            return None;
        }
        let sign = Canonical::of_exact(&o, options).sign(key, options);
        let body = text.trim_end().strip_suffix('}')?;
        let comma = if o.is_empty() { "" } else { "," };
        Some(format!("{body}{comma}\"sign\":\"{sign}\"}}"))
    }

    #[test]
    fn a_repeated_key_is_refused_by_both_paths() {
        let key = Secret::new("k");
        let mut fields = Vec::new();
        let text = r#"{"a":1,"b":2,"a":1}"#;
        assert!(scan_flat(text, &mut fields).is_none());
        let v = verify_text(text, &key, SignOptions::default());
        assert_eq!(v.verdict, Verdict::Unreadable);
        assert!(v.canonical_masked.contains("appears twice"), "{v:?}");
    }

    #[test]
    fn escapes_are_decoded_and_tokens_kept() {
        let key = Secret::new("k");
        let text = r#" { "d" : "x\"y\u00e9\/" , "a":1e2,"b":1E+2,"c":-0.50e-3,"f":true,"n":null,"e":"","sign":"00"} "#;
        let mut fields = Vec::new();
        assert!(scan_flat(text, &mut fields).is_some());
        let v = verify_fields(&fields, &key, SignOptions::default());
        assert_eq!(
            v.canonical_masked,
            "a=1e2&b=1E+2&c=-0.50e-3&d=x\"yé/&f=true&***"
        );
        assert_eq!(v, exactly(text, &key, SignOptions::default()));
    }

    #[test]
    fn text_off_the_grammar_is_left_to_the_exact_reader() {
        let mut fields = Vec::new();
        for text in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":"x\q"}"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":1,}"#,
            r#"{"a":tru}"#,
            r#"{"a":[1]}"#,
            r#"{"a\u0062":1}"#,
            r#"{"a":1} x"#,
            r#"{"a":"\ud800"}"#,
        ] {
            assert!(scan_flat(text, &mut fields).is_none(), "{text}");
            let v = verify_text(text, &Secret::new("k"), SignOptions::default());
            assert_eq!(v, exactly(text, &Secret::new("k"), SignOptions::default()));
        }
    }

    #[test]
    fn check_text_agrees_past_the_stack_slots_and_on_odd_signs() {
        let key = Secret::new("k");
        let options = SignOptions::default();
        let many: Vec<String> = (0..SLOTS + 6).map(|i| format!("\"f{i:02}\":{i}")).collect();
        let many = format!("{{{}}}", many.join(","));
        let mut scratch = CheckScratch::default();
        for text in [
            signed(&many, &key, options).unwrap_or_default(),
            many.clone(),
            r#"{"a":1,"sign":12}"#.to_owned(),
            r#"{"a":1,"sign":null}"#.to_owned(),
            r#"{"a":1,"sign":"0123456789abcdef0123456789abcdef"}"#.to_owned(),
            r#"{"a":"x\"y","sign":"0123456789abcdef0123456789abcdef"}"#.to_owned(),
            r#"{"b":1,"a":2,"b":1,"sign":"0123456789abcdef0123456789abcdef"}"#.to_owned(),
        ] {
            let want = exactly(&text, &key, options);
            let got = check_text(&text, &key, options, &mut scratch);
            assert_eq!(
                (got.verdict, got.warning),
                (want.verdict, want.warning),
                "{text}"
            );
        }
        let valid = signed(&many, &key, options).unwrap_or_default();
        assert_eq!(
            check_text(&valid, &key, options, &mut scratch).verdict,
            Verdict::Valid
        );
    }

    proptest! {
        #[test]
        fn same_bytes_is_slice_equality(a in prop::collection::vec(0u8..3, 0..40), flip in any::<prop::sample::Index>()) {
            let mut b = a.clone();
            prop_assert!(same_bytes(&a, &b));
            if !b.is_empty() {
                let i = flip.index(b.len());
                b[i] ^= 1;
                prop_assert!(!same_bytes(&a, &b));
            }
            prop_assert_eq!(same_bytes(&a, &a[..a.len() / 2]), a.is_empty());
        }
    }

    proptest! {
        #[test]
        fn digit_run_counts_the_leading_digits(text in "[0-9]{0,20}[ -~\\x00-\\x1fé\\x7f/:]{0,12}") {
            let want = text.bytes().take_while(u8::is_ascii_digit).count();
            prop_assert_eq!(digit_run(text.as_bytes()), want);
        }
    }

    proptest! {
        #[test]
        fn the_prefix_is_the_first_sixteen_bytes_padded(key in "[a-z_é]{0,20}") {
            let mut bytes = [0u8; 16];
            let n = key.len().min(16);
            bytes[..n].copy_from_slice(&key.as_bytes()[..n]);
            prop_assert_eq!(prefix(&key), u128::from_be_bytes(bytes));
        }
    }

    proptest! {
        #[test]
        fn plain_run_finds_the_first_byte_that_ends_a_run(text in "[ -~\\x00-\\x1f\"\\\\é欧]{0,40}") {
            let bytes = text.as_bytes();
            let want = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(plain_run(bytes), want);
        }
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_the_exact_reader(text in arb_object_text(), key in "[a-zA-Z0-9]{1,12}") {
            let key = Secret::new(key);
            for options in all_options() {
                let mut scratch = CheckScratch::default();
                for text in [Some(text.clone()), signed(&text, &key, options)].into_iter().flatten() {
                    let fast = verify_text(&text, &key, options);
                    prop_assert_eq!(&fast, &exactly(&text, &key, options));
                    let check = check_text(&text, &key, options, &mut scratch);
                    prop_assert_eq!((check.verdict, check.warning), (fast.verdict, fast.warning));
                }
                if let Some(signed) = signed(&text, &key, options) {
                    prop_assert_eq!(verify_text(&signed, &key, options).verdict, Verdict::Valid);
                }
            }
        }
    }
}
