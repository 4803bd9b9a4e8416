//! The merchant's ledger for a period, written from the sandbox's own seeded orders (same seed,
//! same file) with a chosen share of each kind of difference injected, and beside it the exact
//! report a reconciliation must give (`FILE.truth.json`).
//!
//! The truth is computed here, from the seed data and the rules of issue 15, without the
//! domain's classifier: it is the oracle that tests that classifier.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{Map, Value};

use super::SandboxConfig;
use super::data::{SeedSpec, seed_orders};
use crate::domain::dates::{Bound, format_secs, parse_bound, zone};
use crate::gateway::cny::wire::OrderKind;
use crate::money::Fen;

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;

/// The margin the truth assumes on each side of the period (the reconciler's default).
pub const TRUTH_MARGIN_SECS: i64 = 24 * 3600;

/// The ledger's headers, as a merchant platform names them.
pub const HEADERS: [&str; 6] = [
    "Order No",
    "Amount (CNY)",
    "Fee",
    "State",
    "Booked at",
    "Channel",
];

/// The `--map` that reads the ledger.
pub const LEDGER_MAP: &str = "id=Order No,amount=Amount (CNY),status=State,time=Booked at,\
fee=Fee,unit=yuan,compare=amount,credited=Paid,not_credited=Failed,pending=Pending";

/// The share of ledger rows that get each difference.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LedgerFaults {
    /// The ledger amount changed by a few fen or yuan (credited rows).
    pub amount: f64,
    /// Credited written as failed, failed or pending as paid.
    pub status: f64,
    /// A successful order left out of the ledger.
    pub missing: f64,
    /// A ledger row with an ID the gateway never had (added after the row drawn).
    pub extra: f64,
    /// The row written twice.
    pub duplicate: f64,
    /// The booking time moved past the period's end.
    pub edge: f64,
}

impl LedgerFaults {
    /// `amount=0.01,status=0.01,missing=0.01,extra=0.01,duplicate=0.005,edge=0.005`; a name
    /// left out is 0; the shares add up to at most 1.
    pub fn parse(text: &str) -> Result<LedgerFaults, String> {
        let mut f = LedgerFaults::default();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, p) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not NAME=SHARE"))?;
            let p: f64 = p
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    format!("the share of '{}' is not a number in [0, 1]", name.trim())
                })?;
            match name.trim() {
                "amount" => f.amount = p,
                "status" => f.status = p,
                "missing" => f.missing = p,
                "extra" => f.extra = p,
                "duplicate" => f.duplicate = p,
                "edge" => f.edge = p,
                other => {
                    return Err(format!(
                        "no ledger fault is named '{other}' (amount, status, missing, extra, duplicate, edge)"
                    ));
                }
            }
        }
        if f.shares().iter().map(|(_, p)| p).sum::<f64>() > 1.0 + 1e-9 {
            return Err("the shares of the ledger faults add up to more than 1".to_owned());
        }
        Ok(f)
    }

    fn shares(&self) -> [(Fault, f64); 6] {
        [
            (Fault::Amount, self.amount),
            (Fault::Status, self.status),
            (Fault::Missing, self.missing),
            (Fault::Extra, self.extra),
            (Fault::Duplicate, self.duplicate),
            (Fault::Edge, self.edge),
        ]
    }

    fn pick(&self, roll: f64) -> Option<Fault> {
        let mut edge = 0.0;
        for (fault, p) in self.shares() {
            edge += p;
            if roll < edge {
                return Some(fault);
            }
        }
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Amount,
    Status,
    Missing,
    Extra,
    Duplicate,
    Edge,
}

/// What ledger to write.
#[derive(Clone, Debug)]
pub struct LedgerSpec {
    /// `.csv` or `.xlsx`.
    pub path: PathBuf,
    pub kind: OrderKind,
    /// The period's first and last day (`YYYY-MM-DD`) in `tz_name`.
    pub from: String,
    pub to: String,
    pub tz_name: String,
    pub faults: LedgerFaults,
}

/// What was written.
#[derive(Clone, Debug)]
pub struct LedgerWritten {
    pub file: PathBuf,
    pub truth_file: PathBuf,
    /// The `--map` that reads the file.
    pub map: String,
    pub truth: Truth,
}

/// One class's expected totals (the names are the report's class IDs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TruthClass {
    pub class: &'static str,
    pub count: u64,
    pub ledger_rows: u64,
    pub gateway_orders: u64,
    pub ledger_fen: i64,
    pub gateway_fen: i64,
}

/// The exact report a reconciliation of the ledger must give.
#[derive(Clone, Debug, Serialize)]
pub struct Truth {
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    pub tz: String,
    pub from_secs: i64,
    pub to_secs: i64,
    pub margin_secs: i64,
    pub map: String,
    pub ledger_rows: u64,
    /// Gateway orders created in the period and its margins.
    pub gateway_orders: u64,
    pub ledger_sum_fen: i64,
    pub gateway_sum_fen: i64,
    pub difference_fen: i64,
    pub all_matched: bool,
    /// In the order of the report's classes.
    pub classes: Vec<TruthClass>,
    /// How many rows got each fault.
    pub injected: Injected,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Injected {
    pub amount: u64,
    pub status: u64,
    pub missing: u64,
    pub extra: u64,
    pub duplicate: u64,
    pub edge: u64,
}

impl Truth {
    pub fn class(&self, id: &str) -> Option<&TruthClass> {
        self.classes.iter().find(|c| c.class == id)
    }
}

/// The report's classes, in its order, with whether each is a difference.
pub const CLASS_IDS: [(&str, bool); 9] = [
    ("matched", false),
    ("amount_differs", true),
    ("status_differs", true),
    ("missing_at_gateway", true),
    ("missing_in_ledger", true),
    ("invalid_signature", true),
    ("duplicate", true),
    ("edge", false),
    ("no_money", false),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Success,
    NotCredited,
    Pending,
    Unknown,
}

/// A seeded order of the kind, as the gateway serves it.
#[derive(Clone, Debug)]
struct GOrder {
    amount: i64,
    fee: i64,
    side: Side,
    create: i64,
    update: i64,
    tampered: bool,
    channel: String,
}

/// One ledger row as written.
#[derive(Clone, Debug)]
struct LRow {
    id: String,
    amount: i64,
    fee: i64,
    side: Side,
    time: i64,
    channel: String,
}

fn side_of(kind: OrderKind, code: i64) -> Side {
    match (kind, code) {
        (OrderKind::Deposit, 2) | (OrderKind::Payout, 3) => Side::Success,
        (OrderKind::Deposit, 3 | 4) | (OrderKind::Payout, 4 | 5) => Side::NotCredited,
        (OrderKind::Deposit, 0 | 1) | (OrderKind::Payout, 0 | 1 | 2 | 6) => Side::Pending,
        _ => Side::Unknown,
    }
}

fn word(side: Side) -> &'static str {
    match side {
        Side::Success => "Paid",
        Side::NotCredited => "Failed",
        Side::Pending | Side::Unknown => "Pending",
    }
}

fn int(fields: &Map<String, Value>, name: &str) -> i64 {
    fields.get(name).and_then(Value::as_i64).unwrap_or(0)
}

#[allow(clippy::too_many_lines)]
/// Writes the ledger of `spec` from the orders a sandbox of `config` seeds (its
/// `anchor_secs` must be set: the same anchor gives the same orders), and its truth file.
pub fn write_ledger(config: &SandboxConfig, spec: &LedgerSpec) -> Result<LedgerWritten, String> {
    let anchor_secs = config
        .anchor_secs
        .ok_or("the sandbox's anchor must be fixed to write its ledger")?;
    let tz = zone(&spec.tz_name).map_err(|e| e.to_string())?;
    let from_secs = parse_bound(&spec.from, &tz, Bound::Start).map_err(|e| e.to_string())?;
    let to_secs = parse_bound(&spec.to, &tz, Bound::End).map_err(|e| e.to_string())?;
    if from_secs > to_secs {
        return Err("--ledger-from is after --ledger-to".to_owned());
    }
    let xlsx = match spec
        .path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => false,
        Some("xlsx") => true,
        _ => return Err("the ledger file must end in .csv or .xlsx".to_owned()),
    };
    let (lo, hi) = (from_secs - TRUTH_MARGIN_SECS, to_secs + TRUTH_MARGIN_SECS);

    // The gateway's orders of the window, by merchant order ID.
    let mut gateway: Vec<(String, GOrder)> = Vec::new();
    let seed = SeedSpec {
        seed: config.seed,
        deposits: config.deposits,
        payouts: config.payouts,
        platform_id: String::new(),
        anchor_secs,
    };
    let want_deposits = spec.kind == OrderKind::Deposit;
    let id_field = spec.kind.merchant_id_field();
    seed_orders(&seed, &|_| String::new(), &mut |deposit, fields, sign| {
        if deposit != want_deposits {
            return;
        }
        let create = int(&fields, "create_time");
        if create < lo - 2 * 3600 || create > hi {
            return;
        }
        let tampered = sign.is_some();
        let id = fields
            .get(id_field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        gateway.push((
            id,
            GOrder {
                amount: int(&fields, "amount"),
                fee: int(&fields, "fee"),
                side: side_of(spec.kind, int(&fields, "status")),
                create,
                update: int(&fields, "update_time"),
                tampered,
                channel: fields
                    .get("platform_channel_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
        ));
    });

    // The merchant's rows: every order booked in the period (at its last update; a pending
    // one at its creation), with the faults drawn row by row under the seed.
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x001e_d9e7);
    let mut injected = Injected::default();
    let mut rows: Vec<LRow> = Vec::new();
    let mut extra_seq = 0_u64;
    for (id, g) in &gateway {
        let booked = if g.side == Side::Pending {
            g.create
        } else {
            g.update
        };
        if booked < from_secs || booked > to_secs {
            continue;
        }
        // What the merchant booked: the amount before any tampering.
        let amount = if g.tampered {
            g.amount - 10_000
        } else {
            g.amount
        };
        let mut row = LRow {
            id: id.clone(),
            amount,
            fee: g.fee,
            side: g.side,
            time: booked,
            channel: g.channel.clone(),
        };
        let roll: f64 = rng.random();
        // A tampered order is an invalid signature whatever its ledger says: no fault is
        // spent on it, so each fault's count is its class's.
        let fault = spec.faults.pick(roll).filter(|_| !g.tampered);
        match fault {
            Some(Fault::Amount) if row.side == Side::Success => {
                let delta = if rng.random_bool(0.5) {
                    rng.random_range(1..=99)
                } else {
                    rng.random_range(1..=20) * 100
                };
                row.amount = if row.amount > delta && rng.random_bool(0.5) {
                    row.amount - delta
                } else {
                    row.amount + delta
                };
                injected.amount += 1;
            }
            Some(Fault::Status) => {
                row.side = if row.side == Side::Success {
                    Side::NotCredited
                } else {
                    Side::Success
                };
                injected.status += 1;
            }
            Some(Fault::Missing) if row.side == Side::Success => {
                injected.missing += 1;
                continue;
            }
            Some(Fault::Extra) => {
                extra_seq += 1;
                let prefix = if want_deposits { "dep" } else { "pay" };
                rows.push(LRow {
                    id: format!("{prefix}_x{extra_seq:06}"),
                    amount: rng.random_range(1..=500) * 10_000,
                    fee: 0,
                    side: Side::Success,
                    time: rng.random_range(from_secs..=to_secs),
                    channel: row.channel.clone(),
                });
                injected.extra += 1;
            }
            Some(Fault::Duplicate) => {
                rows.push(row.clone());
                injected.duplicate += 1;
            }
            Some(Fault::Edge) => {
                row.time = to_secs + rng.random_range(60..7_200);
                injected.edge += 1;
            }
            _ => {}
        }
        rows.push(row);
    }
    // A platform's export is in booking order.
    rows.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));

    if xlsx {
        write_xlsx(&spec.path, &rows, &tz)?;
    } else {
        write_csv(&spec.path, &rows, &tz)?;
    }

    gateway.retain(|(_, g)| g.create >= lo && g.create <= hi);
    let truth = judge(spec, from_secs, to_secs, &rows, &gateway, injected);
    let truth_file = truth_path(&spec.path);
    let text = serde_json::to_vec_pretty(&truth).map_err(|e| e.to_string())?;
    std::fs::write(&truth_file, text)
        .map_err(|e| format!("cannot write {}: {e}", truth_file.display()))?;
    Ok(LedgerWritten {
        file: spec.path.clone(),
        truth_file,
        map: LEDGER_MAP.to_owned(),
        truth,
    })
}

/// `FILE.truth.json` beside `FILE`.
pub fn truth_path(ledger: &Path) -> PathBuf {
    let mut name = ledger.as_os_str().to_owned();
    name.push(".truth.json");
    PathBuf::from(name)
}

fn cells(row: &LRow, tz: &jiff::tz::TimeZone) -> [String; 6] {
    [
        row.id.clone(),
        Fen::from_fen(row.amount).yuan_plain(),
        Fen::from_fen(row.fee).yuan_plain(),
        word(row.side).to_owned(),
        format_secs(row.time, tz),
        row.channel.clone(),
    ]
}

fn write_csv(path: &Path, rows: &[LRow], tz: &jiff::tz::TimeZone) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(HEADERS).map_err(|e| fail(&e))?;
    for row in rows {
        out.write_record(cells(row, tz)).map_err(|e| fail(&e))?;
    }
    let mut inner = out.into_inner().map_err(|e| fail(&e))?;
    inner.flush().map_err(|e| fail(&e))
}

fn write_xlsx(path: &Path, rows: &[LRow], tz: &jiff::tz::TimeZone) -> Result<(), String> {
    use rust_xlsxwriter::Workbook;
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let mut book = Workbook::new();
    let sheet = book.add_worksheet_with_constant_memory();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).map_err(|e| fail(&e))?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|e| fail(&e))?;
        let text = cells(row, tz);
        // IDs as text cells; amounts as the numbers a platform's export holds (the nearest
        // double of the decimal text, as a spreadsheet stores it).
        sheet.write_string(r, 0, &text[0]).map_err(|e| fail(&e))?;
        for c in [1_u16, 2] {
            let number: f64 = text[usize::from(c)].parse().map_err(|e| fail(&e))?;
            sheet.write_number(r, c, number).map_err(|e| fail(&e))?;
        }
        for c in 3_u16..6 {
            sheet
                .write_string(r, c, &text[usize::from(c)])
                .map_err(|e| fail(&e))?;
        }
    }
    book.save(path).map_err(|e| fail(&e))
}

#[derive(Default)]
struct Sides<'a> {
    ledger: Vec<&'a LRow>,
    gateway: Vec<&'a GOrder>,
}

fn agree(l: Side, g: Side) -> bool {
    g != Side::Unknown && l == g
}

/// The rules of issue 15, applied to every merchant order ID.
#[allow(clippy::too_many_lines)]
fn judge(
    spec: &LedgerSpec,
    from_secs: i64,
    to_secs: i64,
    rows: &[LRow],
    gateway: &[(String, GOrder)],
    injected: Injected,
) -> Truth {
    let in_period = |t: i64| t >= from_secs && t <= to_secs;
    let mut ids: HashMap<&str, Sides<'_>> = HashMap::new();
    for row in rows {
        ids.entry(row.id.as_str()).or_default().ledger.push(row);
    }
    for (id, g) in gateway {
        ids.entry(id.as_str()).or_default().gateway.push(g);
    }
    let mut classes: Vec<TruthClass> = CLASS_IDS
        .iter()
        .map(|(class, _)| TruthClass {
            class,
            ..TruthClass::default()
        })
        .collect();
    let index = |id: &str| CLASS_IDS.iter().position(|(c, _)| *c == id).unwrap_or(0);
    let (mut ledger_sum, mut gateway_sum) = (0_i64, 0_i64);
    for sides in ids.values() {
        let (ls, gs) = (&sides.ledger, &sides.gateway);
        let class = if ls.len() > 1 || gs.len() > 1 {
            Some("duplicate")
        } else if gs.len() == 1 && gs[0].tampered {
            Some("invalid_signature")
        } else if let (Some(l), Some(g)) = (ls.first(), gs.first()) {
            if !agree(l.side, g.side) {
                Some("status_differs")
            } else if l.side == Side::Success && (l.amount != g.amount || l.fee != g.fee) {
                Some("amount_differs")
            } else if !(in_period(l.time) && in_period(g.create)) {
                Some("edge")
            } else {
                Some("matched")
            }
        } else if let Some(l) = ls.first() {
            Some(if in_period(l.time) {
                "missing_at_gateway"
            } else {
                "edge"
            })
        } else if let Some(g) = gs.first() {
            if !in_period(g.create) {
                // Created before the period, settled in it, never booked: missing.
                (g.side == Side::Success && g.create < from_secs && in_period(g.update))
                    .then_some("missing_in_ledger")
            } else if g.side == Side::Success {
                Some(if g.update > to_secs {
                    "edge"
                } else {
                    "missing_in_ledger"
                })
            } else {
                Some("no_money")
            }
        } else {
            None
        };
        let Some(class) = class else { continue };
        let total = &mut classes[index(class)];
        total.count += 1;
        for l in ls {
            total.ledger_rows += 1;
            if l.side == Side::Success && in_period(l.time) {
                total.ledger_fen += l.amount;
                ledger_sum += l.amount;
            }
        }
        for g in gs {
            total.gateway_orders += 1;
            if g.side == Side::Success && in_period(g.create) {
                total.gateway_fen += g.amount;
                gateway_sum += g.amount;
            }
        }
    }
    let all_matched = classes
        .iter()
        .zip(CLASS_IDS)
        .all(|(c, (_, difference))| !difference || c.count == 0);
    Truth {
        kind: spec.kind.plural(),
        from: spec.from.clone(),
        to: spec.to.clone(),
        tz: spec.tz_name.clone(),
        from_secs,
        to_secs,
        margin_secs: TRUTH_MARGIN_SECS,
        map: LEDGER_MAP.to_owned(),
        ledger_rows: rows.len() as u64,
        gateway_orders: gateway.len() as u64,
        ledger_sum_fen: ledger_sum,
        gateway_sum_fen: gateway_sum,
        difference_fen: ledger_sum - gateway_sum,
        all_matched,
        classes,
        injected,
    }
}
