//! The verdict alone on a common order, for checking many: its fields read onto the stack
//! straight from the text, sorted as they come, and the canonical text built in one reused
//! buffer. Anything this path is not sure of goes to the fast path that decodes escapes, and
//! from there to the exact reader, so the verdicts are the same.
#![deny(clippy::float_arithmetic)]

use super::fast::{Cursor, canonical_into, prefix, scan_flat, verify_text};
use super::verify::{case_warning, check_hex};
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
}

/// The most fields [`scan_plain`] keeps on the stack (an order has about fifteen); an object
/// with more takes the general fast path.
pub(super) const SLOTS: usize = 24;

const EMPTY_SLOT: Slot<'static> = Slot {
    prefix: 0,
    key: "",
    value: Plain::Null,
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

/// The verdict on one object from its text as carried, building the canonical text in
/// `scratch` (reused from call to call); the same verdict and warning as [`verify_text`].
pub fn check_text(text: &str, key: &Secret, options: SignOptions, scratch: &mut String) -> Check {
    let mut slots = [EMPTY_SLOT; SLOTS];
    let Some(n) = scan_plain(text, &mut slots) else {
        return check_escaped(text, key, options, scratch);
    };
    scratch.clear();
    let mut received = Received::Missing;
    for slot in slots.iter().take(n) {
        let signed = match slot.value {
            _ if slot.key == "sign" => {
                received = match slot.value {
                    Plain::String(s) => Received::Sign(s),
                    _ => Received::NotString,
                };
                continue;
            }
            Plain::Null | Plain::String("") => continue,
            Plain::String(t) | Plain::Other(t) => t,
        };
        if options.zero_fields == ZeroFields::Dropped && is_zero_text(signed) {
            continue;
        }
        if !scratch.is_empty() {
            scratch.push('&');
        }
        scratch.push_str(slot.key);
        scratch.push('=');
        scratch.push_str(signed);
    }
    checked(scratch, received, key, options)
}

/// The `sign` an object carried.
#[derive(Clone, Copy)]
enum Received<'a> {
    Missing,
    NotString,
    Sign(&'a str),
}

/// The verdict on a canonical text and the `sign` received beside it.
fn checked(canonical: &str, received: Received<'_>, key: &Secret, options: SignOptions) -> Check {
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

/// [`check_text`] of what [`scan_plain`] leaves: escaped values decoded, and anything else
/// left to the exact reader.
fn check_escaped(text: &str, key: &Secret, options: SignOptions, scratch: &mut String) -> Check {
    let mut fields = Vec::with_capacity(16);
    if scan_flat(text, &mut fields).is_none() {
        let v = verify_text(text, key, options);
        return Check {
            verdict: v.verdict,
            warning: v.warning,
        };
    }
    let received = match canonical_into(&fields, options, scratch, |_, _| {}) {
        None => Received::Missing,
        Some(Err(_)) => Received::NotString,
        Some(Ok(sign)) => Received::Sign(sign),
    };
    checked(scratch, received, key, options)
}
