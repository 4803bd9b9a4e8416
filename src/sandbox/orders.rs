//! The sandbox's CNY orders kept for fast queries: in arrival order, each with the text it is
//! served as ready (brand applied, signed), a time range found by binary search.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::SandboxBrand;
use crate::gateway::cny::sign::{SignOptions, sign_object};
use crate::gateway::cny::wire::OrderKind;
use crate::secret::Secret;

/// Writes orders as the sandbox's brand serves them, and signs them.
pub(crate) struct Renderer {
    brand: SandboxBrand,
    key: Secret,
    options: SignOptions,
    /// Looked up once: the decimal-string brand writes every time in it.
    zone: Option<jiff::tz::TimeZone>,
}

/// Yuan with six decimals, as the decimal-string brands send amounts.
fn decimal_yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}0000", abs / 100, abs % 100)
}

impl Renderer {
    pub fn new(brand: SandboxBrand, key: Secret, options: SignOptions) -> Renderer {
        let zone = (brand == SandboxBrand::V1Paths)
            .then(|| jiff::tz::TimeZone::get("Asia/Shanghai").ok())
            .flatten();
        Renderer {
            brand,
            key,
            options,
            zone,
        }
    }

    pub fn sign(&self, fields: &Map<String, Value>) -> String {
        sign_object(fields, &self.key, self.options)
    }

    /// Unix seconds as ISO 8601 in China Standard Time.
    fn iso_time(&self, secs: i64) -> Option<String> {
        let zone = self.zone.clone()?;
        let ts = jiff::Timestamp::from_second(secs).ok()?;
        Some(
            ts.to_zoned(zone)
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        )
    }

    /// An order's fields as the sandbox's brand writes them: the decimal-string brand sends
    /// amounts as yuan text and times as ISO 8601; the others as stored.
    pub fn branded(&self, fields: &Map<String, Value>) -> Map<String, Value> {
        self.branded_owned(fields.clone())
    }

    fn branded_owned(&self, mut out: Map<String, Value>) -> Map<String, Value> {
        if self.brand != SandboxBrand::V1Paths {
            return out;
        }
        for key in ["amount", "real_amount", "fee", "balance", "total_balance"] {
            if let Some(fen) = out.get(key).and_then(Value::as_i64) {
                out.insert(key.into(), Value::from(decimal_yuan(fen)));
            }
        }
        for key in ["create_time", "update_time"] {
            if let Some(text) = out
                .get(key)
                .and_then(Value::as_i64)
                .and_then(|s| self.iso_time(s))
            {
                out.insert(key.into(), Value::from(text));
            }
        }
        out
    }

    /// The order as it is served: its branded fields and a `sign`, the given one for a
    /// tampered order.
    pub fn entry(
        &self,
        kind: OrderKind,
        fields: Map<String, Value>,
        sign_override: Option<String>,
    ) -> Entry {
        let create_time = fields
            .get("create_time")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let tampered = sign_override.is_some();
        // The decimal-string brand rewrites the fields: keep them as stored for later changes.
        let stored = (self.brand == SandboxBrand::V1Paths)
            .then(|| serde_json::to_string(&fields).unwrap_or_default().into());
        let mut out = self.branded_owned(fields);
        let sign = sign_override.unwrap_or_else(|| self.sign(&out));
        out.insert("sign".into(), Value::from(sign));
        // Written key by key exactly as serde_json writes a map, noting where the IDs and
        // the sign sit so a query can compare and a fault can break them in place.
        let mut text = Vec::with_capacity(320);
        let mut system_id = Span::default();
        let mut merchant_id = Span::default();
        let mut sign_at = 0;
        text.push(b'{');
        for (i, (key, value)) in out.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            write_json(&mut text, key);
            text.push(b':');
            let start = text.len();
            write_json(&mut text, value);
            let span = Span {
                start: start as u32,
                len: (text.len() - start) as u32,
            };
            if key == kind.system_id_field() {
                system_id = span;
            } else if key == kind.merchant_id_field() {
                merchant_id = span;
            } else if key == "sign" {
                sign_at = span.start + 1;
            }
        }
        text.push(b'}');
        let served: Arc<str> = String::from_utf8_lossy(&text).into();
        Entry {
            create_time,
            served,
            stored,
            system_id,
            merchant_id,
            sign_at,
            tampered,
        }
    }
}

/// Orders rendered in one go, half of them on a second thread: signing and writing every
/// order is most of what starting a sandbox of a million orders takes.
pub(crate) fn render_many(
    render: &Renderer,
    kind: OrderKind,
    mut orders: Vec<(Map<String, Value>, Option<String>)>,
) -> Vec<Entry> {
    let second = orders.split_off(orders.len() / 2);
    std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            second
                .into_iter()
                .map(|(fields, sign)| render.entry(kind, fields, sign))
                .collect::<Vec<_>>()
        });
        let mut entries: Vec<Entry> = orders
            .into_iter()
            .map(|(fields, sign)| render.entry(kind, fields, sign))
            .collect();
        match other.join() {
            Ok(rest) => entries.extend(rest),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        entries
    })
}

fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a Vec cannot fail, and string keys and JSON values always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Where a field's JSON value sits in an order's served text.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: u32,
    len: u32,
}

/// One order as the sandbox keeps it: the served text and what a query needs to find it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub create_time: i64,
    served: Arc<str>,
    /// The fields as stored, when the brand serves them rewritten; otherwise the served
    /// text holds them as they are.
    stored: Option<Box<str>>,
    system_id: Span,
    merchant_id: Span,
    /// The byte where the sign's value starts in the served text.
    sign_at: u32,
    /// Served with the sign of its fields before they were altered.
    tampered: bool,
}

impl Entry {
    fn field_is(&self, span: Span, json_text: &str) -> bool {
        let start = span.start as usize;
        self.served
            .as_bytes()
            .get(start..start + span.len as usize)
            .is_some_and(|b| b == json_text.as_bytes())
    }

    /// The merchant order ID, as the served text holds it.
    pub fn merchant_id(&self) -> Option<String> {
        let start = self.merchant_id.start as usize;
        let text = self
            .served
            .get(start..start + self.merchant_id.len as usize)?;
        serde_json::from_str(text).ok()
    }

    /// The order's fields as stored (no `sign`), and the sign it keeps when tampered.
    pub fn fields(&self) -> Option<(Map<String, Value>, Option<String>)> {
        let mut served: Map<String, Value> = serde_json::from_str(&self.served).ok()?;
        let sign = served.shift_remove("sign");
        let fields = match &self.stored {
            Some(text) => serde_json::from_str(text).ok()?,
            None => served,
        };
        let kept = if self.tampered {
            sign.and_then(|s| s.as_str().map(str::to_owned))
        } else {
            None
        };
        Some((fields, kept))
    }

    /// The text to serve, ready to be written into a page.
    pub fn ready(&self) -> Ready {
        Ready {
            text: Arc::clone(&self.served),
            sign_at: self.sign_at,
        }
    }
}

/// An order's served text taken out of the lock.
#[derive(Clone, Debug)]
pub(crate) struct Ready {
    text: Arc<str>,
    sign_at: u32,
}

impl Ready {
    /// Appends the order's text; with `bad_sign` its sign's first character is changed
    /// (to `1` if it is `0`, to `0` otherwise), as a broken signer would send it.
    pub fn write(&self, out: &mut Vec<u8>, bad_sign: bool) {
        let text = &*self.text;
        let at = self.sign_at as usize;
        let first = text.get(at..).and_then(|rest| rest.chars().next());
        match first {
            Some(c) if bad_sign && c != '"' && c != '\\' => {
                out.extend_from_slice(&text.as_bytes()[..at]);
                out.push(if c == '0' { b'1' } else { b'0' });
                out.extend_from_slice(&text.as_bytes()[at + c.len_utf8()..]);
            }
            Some('\\') if bad_sign => {
                // A sign starting with an escaped character: rebuilt the slow way.
                let mut value: Map<String, Value> = serde_json::from_str(text).unwrap_or_default();
                if let Some(Value::String(sign)) = value.get_mut("sign") {
                    let mut chars: Vec<char> = sign.chars().collect();
                    if let Some(c) = chars.first_mut() {
                        *c = if *c == '0' { '1' } else { '0' };
                    }
                    *sign = chars.into_iter().collect();
                }
                write_json(out, &value);
            }
            _ => out.extend_from_slice(text.as_bytes()),
        }
    }
}

/// Which orders a query asks for, as the gateway reads its parameters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selection {
    pub offset: usize,
    pub limit: usize,
    /// The IDs as JSON text (quoted, escaped), compared with the served text as it stands.
    pub system_id: Option<String>,
    pub merchant_id: Option<String>,
    /// Creation times from..=to; only when both bounds were given.
    pub range: Option<(i64, i64)>,
}

impl Selection {
    fn ids_match(&self, e: &Entry) -> bool {
        self.system_id
            .as_deref()
            .is_none_or(|id| e.field_is(e.system_id, id))
            && self
                .merchant_id
                .as_deref()
                .is_none_or(|id| e.field_is(e.merchant_id, id))
    }
}

/// One page of a query: the orders' texts newest first, and how many orders match in all.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub total: usize,
    pub orders: Vec<Ready>,
}

/// The orders of one kind in the order they came in; new ones are only ever appended.
#[derive(Debug)]
pub(crate) struct OrderList {
    entries: Vec<Entry>,
    /// Creation times never fall along `entries` (always so, unless the clock stepped back
    /// or the seed was anchored in the future): a time range is then one run of them.
    in_time_order: bool,
}

impl Default for OrderList {
    fn default() -> Self {
        OrderList {
            entries: Vec::new(),
            in_time_order: true,
        }
    }
}

impl OrderList {
    pub fn with_capacity(n: usize) -> OrderList {
        OrderList {
            entries: Vec::with_capacity(n),
            in_time_order: true,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn get(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    /// Appends an order; its index.
    pub fn push(&mut self, entry: Entry) -> usize {
        if self
            .entries
            .last()
            .is_some_and(|last| last.create_time > entry.create_time)
        {
            self.in_time_order = false;
        }
        self.entries.push(entry);
        self.entries.len() - 1
    }

    /// Replaces an order after its state changed; its creation time stays as it was.
    pub fn replace(&mut self, index: usize, entry: Entry) -> bool {
        match self.entries.get_mut(index) {
            Some(slot) if slot.create_time == entry.create_time => {
                *slot = entry;
                true
            }
            _ => false,
        }
    }

    /// The page a query asks for: newest first (the latest to arrive first among equal
    /// times), `offset` orders skipped, at most `limit`, with the count of all that match.
    pub fn page(&self, sel: &Selection) -> Page {
        let (lo, hi, check_time) = match sel.range {
            None => (0, self.entries.len(), false),
            Some((from, to)) if self.in_time_order => {
                let lo = self.entries.partition_point(|e| e.create_time < from);
                let hi = self.entries.partition_point(|e| e.create_time <= to);
                (lo, hi.max(lo), false)
            }
            Some(_) => (0, self.entries.len(), true),
        };
        let run = &self.entries[lo..hi];
        if sel.system_id.is_none() && sel.merchant_id.is_none() && !check_time {
            // Newest first is the run backwards: the page is a slice of it, found directly.
            let total = run.len();
            let end = total.saturating_sub(sel.offset);
            let start = end.saturating_sub(sel.limit);
            let orders = run[start..end].iter().rev().map(Entry::ready).collect();
            return Page { total, orders };
        }
        let in_range = |e: &Entry| {
            !check_time
                || sel
                    .range
                    .is_some_and(|(f, t)| (f..=t).contains(&e.create_time))
        };
        let mut page = Page::default();
        for e in run.iter().rev().filter(|e| in_range(e) && sel.ids_match(e)) {
            if page.total >= sel.offset && page.orders.len() < sel.limit {
                page.orders.push(e.ready());
            }
            page.total += 1;
        }
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use crate::gateway::cny::sign::{Verdict, verify_object};
    use crate::sandbox::data::{SeedSpec, order_fields};

    fn renderer(brand: SandboxBrand) -> Renderer {
        Renderer::new(brand, Secret::new("k3y".to_owned()), SignOptions::default())
    }

    /// Orders whose times repeat often (ties matter), arrival order = time order.
    fn list(r: &Renderer, kind: OrderKind, times: &[i64]) -> (OrderList, Vec<Map<String, Value>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spec = SeedSpec {
            seed: 0,
            deposits: 0,
            payouts: 0,
            platform_id: "PF0060".to_owned(),
            anchor_secs: 0,
        };
        let mut orders = OrderList::default();
        let mut all = Vec::new();
        for (i, t) in times.iter().enumerate() {
            let fields = order_fields(&mut rng, &spec, kind == OrderKind::Deposit, i + 1, *t);
            orders.push(r.entry(kind, fields.clone(), None));
            all.push(fields);
        }
        (orders, all)
    }

    fn parsed(page: &Page) -> Vec<Map<String, Value>> {
        page.orders
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                r.write(&mut out, false);
                serde_json::from_slice(&out).unwrap()
            })
            .collect()
    }

    /// The sandbox's scan before orders were indexed: every order, newest first, filtered.
    fn brute_force(
        kind: OrderKind,
        all: &[Map<String, Value>],
        sel: &Selection,
        ids: (Option<&str>, Option<&str>),
    ) -> (usize, Vec<String>) {
        let mut total = 0;
        let mut page = Vec::new();
        for o in all.iter().rev() {
            let id = |f: &str| o.get(f).and_then(Value::as_str);
            if ids.0.is_some_and(|s| id(kind.system_id_field()) != Some(s))
                || ids
                    .1
                    .is_some_and(|s| id(kind.merchant_id_field()) != Some(s))
            {
                continue;
            }
            let t = o.get("create_time").and_then(Value::as_i64).unwrap();
            if sel.range.is_some_and(|(f, to)| !(f..=to).contains(&t)) {
                continue;
            }
            if total >= sel.offset && page.len() < sel.limit {
                page.push(id(kind.system_id_field()).unwrap().to_owned());
            }
            total += 1;
        }
        (total, page)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn a_time_range_page_is_the_same_as_a_scan(
            steps in prop::collection::vec(0i64..3, 1..300),
            from in 0i64..400,
            width in -5i64..400,
            offset in 0usize..320,
            limit in 1usize..60,
            bounded in any::<bool>(),
            pick in 0usize..400,
            by in 0u8..3,
            payouts in any::<bool>(),
        ) {
            let kind = if payouts { OrderKind::Payout } else { OrderKind::Deposit };
            let times: Vec<i64> = steps
                .iter()
                .scan(0, |t, s| {
                    *t += s;
                    Some(*t)
                })
                .collect();
            let r = renderer(SandboxBrand::Seed);
            let (orders, all) = list(&r, kind, &times);
            let chosen = &all[pick % all.len()];
            let sys = chosen.get(kind.system_id_field()).and_then(Value::as_str).unwrap();
            let mer = chosen.get(kind.merchant_id_field()).and_then(Value::as_str).unwrap();
            let ids = match by {
                0 => (None, None),
                1 => (Some(sys), None),
                _ => (None, Some(mer)),
            };
            let sel = Selection {
                offset,
                limit,
                system_id: ids.0.map(|s| serde_json::to_string(s).unwrap()),
                merchant_id: ids.1.map(|s| serde_json::to_string(s).unwrap()),
                range: bounded.then_some((from, from + width)),
            };
            let page = orders.page(&sel);
            let (total, expected) = brute_force(kind, &all, &sel, ids);
            prop_assert_eq!(page.total, total);
            let got: Vec<String> = parsed(&page)
                .iter()
                .map(|o| o.get(kind.system_id_field()).and_then(Value::as_str).unwrap().to_owned())
                .collect();
            prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn orders_out_of_time_order_are_still_found_as_a_scan_finds_them() {
        let r = renderer(SandboxBrand::Seed);
        let times = [10, 20, 30, 40, 15, 25, 5, 40];
        let (orders, all) = list(&r, OrderKind::Payout, &times);
        assert!(!orders.in_time_order);
        for (from, to) in [(0, 100), (12, 30), (40, 40), (16, 14)] {
            for offset in 0..4 {
                let sel = Selection {
                    offset,
                    limit: 3,
                    range: Some((from, to)),
                    ..Selection::default()
                };
                let page = orders.page(&sel);
                let (total, expected) = brute_force(OrderKind::Payout, &all, &sel, (None, None));
                assert_eq!(page.total, total);
                let got: Vec<String> = parsed(&page)
                    .iter()
                    .map(|o| o["payout_id"].as_str().unwrap().to_owned())
                    .collect();
                assert_eq!(got, expected);
            }
        }
    }

    #[test]
    fn the_served_text_is_the_signed_branded_order_as_serde_writes_it() {
        for brand in [
            SandboxBrand::Seed,
            SandboxBrand::V1Paths,
            SandboxBrand::BankCode,
        ] {
            let r = renderer(brand);
            let (orders, all) = list(&r, OrderKind::Deposit, &[1_700_000_000, 1_700_000_100]);
            let mut expected = r.branded(&all[1]);
            let sign = r.sign(&expected);
            expected.insert("sign".into(), Value::from(sign));
            let e = orders.get(1).unwrap();
            assert_eq!(&*e.served, serde_json::to_string(&expected).unwrap());
            let v = verify_object(
                &expected,
                &Secret::new("k3y".to_owned()),
                SignOptions::default(),
            );
            assert_eq!(v.verdict, Verdict::Valid);
            // The fields come back as stored, whatever the brand wrote.
            assert_eq!(e.fields().unwrap(), (all[1].clone(), None));
        }
    }

    #[test]
    fn a_bad_sign_changes_only_the_first_character_of_the_sign() {
        let r = renderer(SandboxBrand::Seed);
        let mut fields = Map::new();
        fields.insert("payout_id".into(), Value::from("POT1"));
        fields.insert("create_time".into(), Value::from(5));
        for (sign, broken) in [("0abc", "1abc"), ("fabc", "0abc"), ("", "")] {
            let e = r.entry(OrderKind::Payout, fields.clone(), Some(sign.to_owned()));
            let mut out = Vec::new();
            e.ready().write(&mut out, true);
            let v: Map<String, Value> = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["sign"], Value::from(broken));
            assert_eq!(v["payout_id"], Value::from("POT1"));
            assert_eq!(e.fields().unwrap().1.as_deref(), Some(sign));
        }
    }
}
