//! The verdict alone on a common order, for checking many: its fields read onto the stack
//! straight from the text, sorted as they come, and the canonical text built in one reused
//! buffer. Anything this path is not sure of goes to the fast path that decodes escapes, and
//! from there to the exact reader, so the verdicts are the same.
#![deny(clippy::float_arithmetic)]

use super::fast::{Cursor, Field, canonical_into, prefix, scan_flat, verify_text};
use super::verify::{Verification, case_warning, check_hex};
use super::{SignOptions, Verdict, ZeroFields, is_zero_text};
use crate::secret::Secret;

/// A scalar as a verdict needs it, borrowed from the text: what it signs as, and whether it
/// was a string (a `sign` that is not one is malformed).
#[derive(Clone, Copy)]
pub(super) enum Plain<'a> {
    Null,
    String(&'a str),
    /// A number's token or `true`/`false`.
    Other(&'a str),
}

/// One field of a flat object, borrowed from its text.
#[derive(Clone, Copy)]
struct Slot<'a> {
    prefix: u128,
    key: &'a str,
    value: Plain<'a>,
    /// Where the field stood in the text.
    index: u8,
}

/// The most fields [`scan_plain`] keeps on the stack (an order has about fifteen); an object
/// with more takes the general fast path.
pub(super) const SLOTS: usize = 24;

const EMPTY_SLOT: Slot<'static> = Slot {
    prefix: 0,
    key: "",
    value: Plain::Null,
    index: 0,
};

/// The fields of a flat object with no escaped string, sorted by key as they are read, into
/// `slots`; their count. `None` for anything else (more than [`SLOTS`] fields, an escape, a
/// repeated key, a nested value), which [`scan_flat`] and the exact reader then judge.
fn scan_plain<'a>(text: &'a str, slots: &mut [Slot<'a>; SLOTS]) -> Option<usize> {
    let mut c = Cursor::new(text);
    let mut n = 0;
    c.eat(b'{')?;
    if !c.next_is(b'}') {
        loop {
            let key = c.key()?;
            let value = c.plain_scalar()?;
            if n == SLOTS {
                return None;
            }
            let slot = Slot {
                prefix: prefix(key),
                key,
                value,
                index: u8::try_from(n).ok()?,
            };
            // Insertion as they come: a handful of fields, mostly near their place.
            let mut i = n;
            while i > 0 {
                let before = slots[i - 1];
                match before
                    .prefix
                    .cmp(&slot.prefix)
                    .then_with(|| before.key.as_bytes().cmp(key.as_bytes()))
                {
                    std::cmp::Ordering::Greater => {
                        slots[i] = before;
                        i -= 1;
                    }
                    std::cmp::Ordering::Equal => return None,
                    std::cmp::Ordering::Less => break,
                }
            }
            slots[i] = slot;
            n += 1;
            if c.next_is(b'}') {
                break;
            }
            c.eat(b',')?;
        }
    }
    c.at_end().then_some(n)
}

/// A verdict without its explanation (the masked text and what was left out), for checking
/// many orders: nothing is allocated per order but the field list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    pub verdict: Verdict,
    pub warning: Option<&'static str>,
}

impl From<&Verification> for Check {
    fn from(v: &Verification) -> Check {
        Check {
            verdict: v.verdict,
            warning: v.warning,
        }
    }
}

/// What [`check_text`] reuses from call to call: the buffer of the canonical text, and the
/// plan of the last object read (its keys in the order they came, and that order sorted), so
/// the next object with the same keys in the same order (every order of a page) is read
/// without sorting anything.
#[derive(Default)]
pub struct CheckScratch {
    canonical: String,
    /// The canonical text as the plan writes it: whole words at a time, so with room to
    /// spare past the end.
    bytes: Vec<u8>,
    plan: Plan,
}

/// The longest `&key=` a plan keeps, and the most bytes of a value copied as one word.
const WORD: usize = 32;

#[derive(Default)]
struct Plan {
    /// Each key with its quotes, as the text carries it (no escape), in the text's order.
    quoted: Vec<Box<str>>,
    /// The same keys as compact text writes them: `{"key":` for the first, `,"key":` after.
    compact: Vec<Box<str>>,
    /// In key order, each field's text position and `&key=` (`sign` left out), zero-padded
    /// to a word, with its length.
    sorted: Vec<(u8, [u8; WORD], u8)>,
    /// The text position of `sign`.
    sign: Option<u8>,
}

impl Plan {
    /// Remembers the keys of sorted `slots` (each knowing its text position); forgets all
    /// when a key is too long for a word.
    fn learn(&mut self, slots: &[Slot<'_>]) {
        self.quoted.clear();
        self.quoted.resize(slots.len(), Box::default());
        self.compact.clear();
        self.compact.resize(slots.len(), Box::default());
        self.sorted.clear();
        self.sign = None;
        for slot in slots {
            if let Some(q) = self.quoted.get_mut(usize::from(slot.index)) {
                *q = format!("\"{}\"", slot.key).into_boxed_str();
            }
            if let Some(q) = self.compact.get_mut(usize::from(slot.index)) {
                let before = if slot.index == 0 { '{' } else { ',' };
                *q = format!("{before}\"{}\":", slot.key).into_boxed_str();
            }
            if slot.key == "sign" {
                self.sign = Some(slot.index);
            } else {
                let piece = format!("&{}=", slot.key);
                let mut word = [0; WORD];
                let (Some(to), Ok(len)) = (word.get_mut(..piece.len()), u8::try_from(piece.len()))
                else {
                    self.quoted.clear();
                    return;
                };
                to.copy_from_slice(piece.as_bytes());
                self.sorted.push((slot.index, word, len));
            }
        }
    }

    /// The values of an object whose keys are the plan's, in the same order, into `values`;
    /// `None` for anything else (which the general path then reads).
    fn read<'a>(&self, text: &'a str, values: &mut [(Plain<'a>, usize); SLOTS]) -> Option<()> {
        let mut c = Cursor::new(text);
        let keys = self.quoted.iter().zip(&self.compact);
        for (i, ((quoted, compact), value)) in keys.zip(values.iter_mut()).enumerate() {
            // The quoted key holds no quote, backslash or control byte, so these bytes
            // are that key's whole token, as the general scan would read it; with no
            // whitespace around, the key comes with its neighbours in one compare.
            if !c.take(compact.as_bytes()) {
                c.eat(if i == 0 { b'{' } else { b',' })?;
                c.quoted_key(quoted.as_bytes())?;
            }
            let plain = c.plain_scalar()?;
            // Where the value's bytes start in the text (a string's after its quote).
            let start = match plain {
                Plain::String(t) => c.pos() - 1 - t.len(),
                Plain::Other(t) => c.pos() - t.len(),
                Plain::Null => 0,
            };
            *value = (plain, start);
        }
        c.eat(b'}')?;
        c.at_end().then_some(())
    }

    /// The canonical text of `values` read from `text` by [`Plan::read`], each field with
    /// its `&` before it (the first one too), into `out` (at least [`WORD`] bytes longer
    /// than `text`): its length and the `sign` received.
    fn canonical<'a>(
        &self,
        text: &str,
        values: &[(Plain<'a>, usize); SLOTS],
        options: SignOptions,
        out: &mut [u8],
    ) -> Option<(usize, Received<'a>)> {
        let dropped = options.zero_fields == ZeroFields::Dropped;
        let mut at = 0;
        for (i, piece, len) in &self.sorted {
            let (signed, start) = match values.get(usize::from(*i))? {
                (Plain::String(t) | Plain::Other(t), start) if !t.is_empty() => (*t, *start),
                _ => continue,
            };
            if dropped && is_zero_text(signed) {
                continue;
            }
            // Whole words copied, the length kept: the bytes past it are written over next.
            out.get_mut(at..at + WORD)?.copy_from_slice(piece);
            at += usize::from(*len);
            let n = signed.len();
            match text.as_bytes().get(start..start + WORD) {
                Some(word) if n <= WORD => out.get_mut(at..at + WORD)?.copy_from_slice(word),
                _ => out.get_mut(at..at + n)?.copy_from_slice(signed.as_bytes()),
            }
            at += n;
        }
        let received = match self.sign.and_then(|i| values.get(usize::from(i))) {
            None => Received::Missing,
            Some((Plain::String(s), _)) => Received::Sign(s),
            Some(_) => Received::NotString,
        };
        Some((at, received))
    }
}

/// The verdict on one object from its text as carried, building the canonical text in
/// `scratch` (reused from call to call); the same verdict and warning as [`verify_text`].
pub fn check_text(
    text: &str,
    key: &Secret,
    options: SignOptions,
    scratch: &mut CheckScratch,
) -> Check {
    let CheckScratch {
        canonical,
        bytes,
        plan,
    } = scratch;
    if !plan.quoted.is_empty() {
        let mut values = [(Plain::Null, 0); SLOTS];
        if plan.read(text, &mut values).is_some() {
            // The canonical text is never longer than the object's (each `"key":` gives
            // way to `&key=`, a string loses its quotes).
            let room = text.len() + 2 * WORD;
            if bytes.len() < room {
                bytes.resize(room, 0);
            }
            if let Some((len, received)) = plan.canonical(text, &values, options, bytes) {
                let fields = bytes.get(1..len).unwrap_or_default();
                return checked(fields, received, key, options);
            }
        }
    }
    canonical.clear();
    let mut received = Received::Missing;
    let mut slots = [EMPTY_SLOT; SLOTS];
    let Some(n) = scan_plain(text, &mut slots) else {
        plan.quoted.clear();
        return check_escaped(text, key, options, canonical);
    };
    let slots = slots.get(..n).unwrap_or_default();
    plan.learn(slots);
    for slot in slots {
        push_field(canonical, &mut received, slot.key, slot.value, options);
    }
    checked(canonical.as_bytes(), received, key, options)
}

/// Adds one field (in key order) to the canonical text, or takes it as the `sign`.
#[inline]
fn push_field<'a>(
    canonical: &mut String,
    received: &mut Received<'a>,
    name: &str,
    value: Plain<'a>,
    options: SignOptions,
) {
    let signed = match value {
        _ if name == "sign" => {
            *received = match value {
                Plain::String(s) => Received::Sign(s),
                _ => Received::NotString,
            };
            return;
        }
        Plain::Null | Plain::String("") => return,
        Plain::String(t) | Plain::Other(t) => t,
    };
    if options.zero_fields == ZeroFields::Dropped && is_zero_text(signed) {
        return;
    }
    if !canonical.is_empty() {
        canonical.push('&');
    }
    canonical.push_str(name);
    canonical.push('=');
    canonical.push_str(signed);
}

/// The `sign` an object carried.
#[derive(Clone, Copy)]
enum Received<'a> {
    Missing,
    NotString,
    Sign(&'a str),
}

/// The verdict on a canonical text and the `sign` received beside it.
fn checked(canonical: &[u8], received: Received<'_>, key: &Secret, options: SignOptions) -> Check {
    let verdict = match received {
        Received::Missing => Verdict::Missing,
        Received::NotString => Verdict::Malformed,
        Received::Sign(sign) => {
            let verdict = check_hex(canonical, sign, key, options);
            let warning = (verdict == Verdict::Valid)
                .then(|| case_warning(sign, options))
                .flatten();
            return Check { verdict, warning };
        }
    };
    Check {
        verdict,
        warning: None,
    }
}

/// The verdict on a flat object already read into its fields (sorted, each key once, as
/// [`scan_flat`] gives them), building the canonical text in `scratch`: the same verdict and
/// warning as [`check_text`] on the object's text, without reading the text again.
pub fn check_fields(
    fields: &[Field<'_>],
    key: &Secret,
    options: SignOptions,
    scratch: &mut CheckScratch,
) -> Check {
    let canonical = &mut scratch.canonical;
    let received = match canonical_into(fields, options, canonical, |_, _| {}) {
        None => Received::Missing,
        Some(Err(_)) => Received::NotString,
        Some(Ok(sign)) => Received::Sign(sign),
    };
    checked(canonical.as_bytes(), received, key, options)
}

/// [`check_text`] of what [`scan_plain`] leaves: escaped values decoded, and anything else
/// left to the exact reader.
fn check_escaped(text: &str, key: &Secret, options: SignOptions, scratch: &mut String) -> Check {
    let mut fields = Vec::with_capacity(16);
    if scan_flat(text, &mut fields).is_none() {
        return Check::from(&verify_text(text, key, options));
    }
    let received = match canonical_into(&fields, options, scratch, |_, _| {}) {
        None => Received::Missing,
        Some(Err(_)) => Received::NotString,
        Some(Ok(sign)) => Received::Sign(sign),
    };
    checked(scratch.as_bytes(), received, key, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::sign::fast::tests::{exactly, signed};
    use crate::gateway::cny::sign::tests::{all_options, arb_object_text, arb_value_text};
    use proptest::prelude::*;

    /// Two objects with the same keys in the same order (now and then a repeated or an
    /// escaped one) over independent values and whitespace, as the orders of one page come;
    /// and the second with its keys in upper case (the same lengths, other bytes).
    fn arb_same_keys() -> impl Strategy<Value = (String, String, String)> {
        let key = prop_oneof![
            3 => "[a-z_]{0,3}".prop_map(|k| format!("\"{k}\"")),
            3 => prop::sample::select(vec!["amount", "fee", "memo", "status", "sign", "payment_id"])
                .prop_map(|k| format!("\"{k}\"")),
            1 => Just("\"\\u0061\"".to_owned()),
        ];
        let space = prop::sample::select(vec!["", "", " ", "\n"]);
        let field = (
            key,
            arb_value_text(),
            space.clone(),
            arb_value_text(),
            space,
        );
        prop::collection::vec(field, 0..10).prop_map(|fields| {
            let render = |second: bool, upper: bool| {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v1, ws1, v2, ws2)| {
                        let (v, ws) = if second { (v2, ws2) } else { (v1, ws1) };
                        let k = if upper { k.to_uppercase() } else { k.clone() };
                        format!("{ws}{k}{ws}:{ws}{v}{ws}")
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            };
            (
                render(false, false),
                render(true, false),
                render(true, true),
            )
        })
    }

    proptest! {
        #[test]
        fn check_fields_agrees_with_the_exact_reader(
            text in arb_object_text(),
            key in "[a-zA-Z0-9]{1,12}",
        ) {
            let key = Secret::new(key);
            // One scratch for all, as a page's orders share it.
            let mut scratch = CheckScratch::default();
            for options in all_options() {
                for text in [Some(text.clone()), signed(&text, &key, options)].into_iter().flatten() {
                    let mut fields = Vec::new();
                    prop_assume!(scan_flat(&text, &mut fields).is_some());
                    let want = exactly(&text, &key, options);
                    let got = check_fields(&fields, &key, options, &mut scratch);
                    prop_assert_eq!((got.verdict, got.warning), (want.verdict, want.warning), "{}", text);
                }
            }
        }

        #[test]
        fn check_text_agrees_when_it_reuses_the_last_objects_keys(
            (first, second, renamed) in arb_same_keys(),
            other in arb_object_text(),
            key in "[a-zA-Z0-9]{1,12}",
        ) {
            let key = Secret::new(key);
            for options in all_options() {
                // One scratch for all: each text is read with the plan the one before left.
                let mut scratch = CheckScratch::default();
                let texts = [
                    Some(first.clone()),
                    Some(second.clone()),
                    signed(&first, &key, options),
                    signed(&second, &key, options),
                    signed(&renamed, &key, options),
                    Some(renamed.clone()),
                    Some(other.clone()),
                    Some(first.clone()),
                    Some(first.clone()),
                ];
                for text in texts.into_iter().flatten() {
                    let want = exactly(&text, &key, options);
                    let got = check_text(&text, &key, options, &mut scratch);
                    prop_assert_eq!((got.verdict, got.warning), (want.verdict, want.warning), "{}", text);
                }
            }
        }
    }
}
