//! The classification of every merchant order ID (the table of the reconciliation rules),
//! as a pure decision for one ID and a streaming pass over the work file ordered by order ID:
//! memory holds one ID's first rows, never a side.

use std::fmt::Write as _;

use rusqlite::{Connection, params};

use super::ReconcileError;
use super::ledger::{LedgerRow, LedgerStatus};
use super::mapping::CompareWith;
use super::report::{Class, ClassTotal};
use super::run::Period;
use super::store::{GatewaySide, Workfile, db_error, status_word};
use crate::gateway::cny::wire::{OrderKind, OrderStatus, StatusClass};
use crate::money::Fen;

/// What the classification needs besides the rows.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    pub period: Period,
    pub compare_with: CompareWith,
    /// The ledger has a fee column: then fees are compared too.
    pub fee_mapped: bool,
}

impl Rules {
    fn in_period(&self, secs: Option<i64>) -> bool {
        secs.is_some_and(|t| (self.period.from_secs..=self.period.to_secs).contains(&t))
    }

    fn place(&self, secs: Option<i64>) -> &'static str {
        match secs {
            None => "at no known time",
            Some(t) if t < self.period.from_secs => "before the period",
            Some(t) if t > self.period.to_secs => "after the period",
            Some(_) => "in the period",
        }
    }

    /// The amount compared with the ledger's.
    pub(super) fn compared(&self, g: &GatewaySide) -> Option<Fen> {
        match self.compare_with {
            CompareWith::Amount => g.amount,
            CompareWith::RealAmount => g.real_amount,
        }
    }

    fn compared_name(&self) -> &'static str {
        match self.compare_with {
            CompareWith::Amount => "amount",
            CompareWith::RealAmount => "real amount",
        }
    }

    /// What a ledger row adds to the ledger's sum: its amount when credited in the period.
    pub(super) fn ledger_part(&self, l: &LedgerRow) -> Fen {
        if l.status == LedgerStatus::Credited && self.in_period(Some(l.time_secs)) {
            l.amount
        } else {
            Fen::ZERO
        }
    }

    /// What a gateway order adds to the gateway's sum: its compared amount (0 when missing)
    /// when successful in the period.
    pub(super) fn gateway_part(&self, g: &GatewaySide) -> Fen {
        if g.status.class() == StatusClass::Success && self.in_period(g.create_time_secs) {
            self.compared(g).unwrap_or(Fen::ZERO)
        } else {
            Fen::ZERO
        }
    }
}

fn agree(l: LedgerStatus, g: StatusClass) -> bool {
    matches!(
        (l, g),
        (LedgerStatus::Credited, StatusClass::Success)
            | (
                LedgerStatus::NotCredited,
                StatusClass::Failed | StatusClass::Cancelled
            )
            | (LedgerStatus::Pending, StatusClass::InProgress)
    )
}

fn ledger_says(l: &LedgerRow) -> String {
    format!("\"{}\" ({})", l.status_text.trim(), l.status.label())
}

fn money(f: Option<Fen>) -> String {
    f.map_or_else(|| "missing".to_owned(), |f| f.to_string())
}

/// The class of an ID with at most one row on each side (more is [`Class::Duplicate`]), and
/// why, for an operator; `None` for a gateway order of the margins only (it belongs to a
/// neighbouring period).
pub(super) fn decide(
    l: Option<&LedgerRow>,
    g: Option<&GatewaySide>,
    rules: &Rules,
) -> Option<(Class, String)> {
    if let Some(g) = g.filter(|g| !g.signature_valid) {
        let mut detail = format!(
            "the gateway's order {} failed its signature check: never counted as matched",
            g.system_id
        );
        if let Some(l) = l {
            let _ = write!(detail, "; ledger {} {}", l.amount, ledger_says(l));
        }
        return Some((Class::InvalidSignature, detail));
    }
    match (l, g) {
        (Some(l), Some(g)) => Some(both(l, g, rules)),
        (Some(l), None) => Some(if rules.in_period(Some(l.time_secs)) {
            (
                Class::MissingAtGateway,
                format!(
                    "the ledger has {} {}, the gateway has no order with this ID in the period \
                     or its margins",
                    l.amount,
                    ledger_says(l)
                ),
            )
        } else {
            (
                Class::Edge,
                format!(
                    "the ledger booked it {} and the gateway has no order with this ID near it",
                    rules.place(Some(l.time_secs))
                ),
            )
        }),
        (None, Some(g)) => only_gateway(g, rules),
        (None, None) => None,
    }
}

fn both(l: &LedgerRow, g: &GatewaySide, rules: &Rules) -> (Class, String) {
    // Both sides are compared even across the period's ends: a wrong amount on an order
    // created before midnight and booked after it must show in a daily run.
    let status = g.status.class();
    if !agree(l.status, status) {
        return (
            Class::StatusDiffers,
            format!(
                "the ledger says {}, the gateway says {}",
                ledger_says(l),
                g.status.label()
            ),
        );
    }
    if l.status == LedgerStatus::Credited {
        let compared = rules.compared(g);
        let mut why = Vec::new();
        if compared != Some(l.amount) {
            why.push(format!(
                "ledger {}, gateway {} {}",
                l.amount,
                rules.compared_name(),
                money(compared)
            ));
        }
        if rules.fee_mapped && l.fee != g.fee {
            why.push(format!(
                "fee: ledger {}, gateway {}",
                money(l.fee),
                money(g.fee)
            ));
        }
        if !why.is_empty() {
            return (Class::AmountDiffers, why.join("; "));
        }
    }
    let l_in = rules.in_period(Some(l.time_secs));
    let g_in = rules.in_period(g.create_time_secs);
    if !(l_in && g_in) {
        return (
            Class::Edge,
            format!(
                "both sides agree ({}, {}); the ledger booked it {}, the gateway created it {}",
                l.amount,
                g.status.label(),
                rules.place(Some(l.time_secs)),
                rules.place(g.create_time_secs)
            ),
        );
    }
    (
        Class::Matched,
        format!("both sides agree: {}, {}", l.amount, g.status.label()),
    )
}

fn only_gateway(g: &GatewaySide, rules: &Rules) -> Option<(Class, String)> {
    let amount = money(rules.compared(g));
    if !rules.in_period(g.create_time_secs) {
        // Created in the margin before the period and settled in it: the money arrived in
        // this period, so its ledger should have it (the day before counted it as an edge).
        let settled_in = g
            .create_time_secs
            .is_some_and(|c| c < rules.period.from_secs)
            && g.update_time_secs.is_some_and(|u| rules.in_period(Some(u)));
        if g.status.class() == StatusClass::Success && settled_in {
            return Some((
                Class::MissingInLedger,
                format!(
                    "the gateway's order {} ({amount}) was created before the period and                      settled in it; the ledger has no row with this ID",
                    g.system_id
                ),
            ));
        }
        return None;
    }
    Some(match g.status.class() {
        StatusClass::Success => match g.update_time_secs {
            Some(u) if u > rules.period.to_secs => (
                Class::Edge,
                format!(
                    "the gateway's order {} ({amount}) was created in the period and settled \
                     after its end; the ledger has no row with this ID",
                    g.system_id
                ),
            ),
            _ => (
                Class::MissingInLedger,
                format!(
                    "the gateway moved {amount} (order {}, success), the ledger has no row \
                     with this ID",
                    g.system_id
                ),
            ),
        },
        _ => (
            Class::NoMoney,
            format!(
                "the gateway says {} and the ledger has no row with this ID: no money moved",
                g.status.label()
            ),
        ),
    })
}

/// A ledger row with its key in the work file.
struct KeyedLedger {
    id: i64,
    row: LedgerRow,
}

struct KeyedGateway {
    id: i64,
    order_id: String,
    side: GatewaySide,
}

fn read_ledger_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyedLedger> {
    let status: String = r.get(4)?;
    Ok(KeyedLedger {
        id: r.get(0)?,
        row: LedgerRow {
            row: usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            order_id: r.get(2)?,
            amount: Fen::from_fen(r.get(3)?),
            status: match status.as_str() {
                "credited" => LedgerStatus::Credited,
                "not_credited" => LedgerStatus::NotCredited,
                _ => LedgerStatus::Pending,
            },
            status_text: r.get(5)?,
            time_secs: r.get(6)?,
            fee: r.get::<_, Option<i64>>(7)?.map(Fen::from_fen),
        },
    })
}

fn read_gateway_row(r: &rusqlite::Row<'_>, kind: OrderKind) -> rusqlite::Result<KeyedGateway> {
    let fen = |i: usize| r.get::<_, Option<i64>>(i).map(|v| v.map(Fen::from_fen));
    Ok(KeyedGateway {
        id: r.get(0)?,
        order_id: r.get(1)?,
        side: GatewaySide {
            system_id: r.get(2)?,
            amount: fen(3)?,
            real_amount: fen(4)?,
            fee: fen(5)?,
            status: OrderStatus {
                kind,
                code: r.get(6)?,
            },
            create_time_secs: r.get(7)?,
            update_time_secs: r.get(8)?,
            signature_valid: r.get(9)?,
            // The text is not needed to classify; pages read it back.
            text: String::new(),
        },
    })
}

/// One row of the `diffs` table.
struct DiffRow<'a> {
    class: Class,
    order_id: &'a str,
    system_id: &'a str,
    ledger_id: Option<i64>,
    gateway_id: Option<i64>,
    detail: &'a str,
    ledger_part: Fen,
    gateway_part: Fen,
}

fn insert_diff(conn: &Connection, d: &DiffRow<'_>) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO diffs (class, order_id, system_id, ledger_id, gateway_id, detail,
             ledger_part, gateway_part) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        d.class.id(),
        d.order_id,
        d.system_id,
        d.ledger_id,
        d.gateway_id,
        d.detail,
        d.ledger_part.fen(),
        d.gateway_part.fen(),
    ])?;
    Ok(())
}

fn broken(what: &str) -> ReconcileError {
    ReconcileError::Io(format!("the work file is inconsistent: {what}"))
}

fn times(n: i64) -> String {
    if n == 1 {
        "once".to_owned()
    } else {
        format!("{n} times")
    }
}

/// Classifies every order ID of the work file into its `diffs` table: a merge of both sides
/// ordered by order ID, each ID's rows counted first (so a duplicate is known before its
/// first row is written), the rows then read one at a time.
pub(super) fn classify(file: &mut Workfile, rules: &Rules) -> Result<(), ReconcileError> {
    file.make_indexes()?;
    let kind = file.kind();
    let conn = file.conn();
    conn.execute_batch("BEGIN").map_err(|e| db_error(&e))?;
    let outcome = merge(conn, kind, rules);
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    conn.execute_batch(end).map_err(|e| db_error(&e))?;
    outcome?;
    file.make_diff_indexes()
}

#[allow(clippy::too_many_lines)]
fn merge(conn: &Connection, kind: OrderKind, rules: &Rules) -> Result<(), ReconcileError> {
    let db = |e: rusqlite::Error| db_error(&e);
    let mut l_counts = conn
        .prepare("SELECT order_id, COUNT(*) FROM ledger GROUP BY order_id ORDER BY order_id")
        .map_err(db)?;
    let mut g_counts = conn
        .prepare("SELECT order_id, COUNT(*) FROM gateway GROUP BY order_id ORDER BY order_id")
        .map_err(db)?;
    let mut l_rows = conn
        .prepare(
            "SELECT id, row, order_id, amount, status, status_text, time_secs, fee
             FROM ledger ORDER BY order_id, row",
        )
        .map_err(db)?;
    let mut g_rows = conn
        .prepare(
            "SELECT id, order_id, system_id, amount, real_amount, fee, status_code,
                    create_time_secs, update_time_secs, signature_valid
             FROM gateway ORDER BY order_id, system_id",
        )
        .map_err(db)?;
    let count = |r: &rusqlite::Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?));
    let mut l_counts = Heads::new(l_counts.query_map([], count).map_err(db)?)?;
    let mut g_counts = Heads::new(g_counts.query_map([], count).map_err(db)?)?;
    let mut l_rows = l_rows.query_map([], read_ledger_row).map_err(db)?;
    let mut g_rows = g_rows
        .query_map([], |r| read_gateway_row(r, kind))
        .map_err(db)?;
    loop {
        let id = match (&l_counts.head, &g_counts.head) {
            (None, None) => break,
            (Some((l, _)), None) => l.clone(),
            (None, Some((g, _))) => g.clone(),
            (Some((l, _)), Some((g, _))) => l.min(g).clone(),
        };
        let nl = l_counts.take(&id)?;
        let ng = g_counts.take(&id)?;
        let mut next_l = || -> Result<KeyedLedger, ReconcileError> {
            let l = l_rows
                .next()
                .ok_or_else(|| broken("a ledger row is missing"))?
                .map_err(db)?;
            if l.row.order_id == id {
                Ok(l)
            } else {
                Err(broken("the ledger rows are out of order"))
            }
        };
        if nl > 1 || ng > 1 {
            let detail_of = |which: String| {
                format!(
                    "the ID appears {} in the ledger and {} at the gateway ({which})",
                    times(nl),
                    times(ng)
                )
            };
            for _ in 0..nl {
                let l = next_l()?;
                insert_diff(
                    conn,
                    &DiffRow {
                        class: Class::Duplicate,
                        order_id: &id,
                        system_id: "",
                        ledger_id: Some(l.id),
                        gateway_id: None,
                        detail: &detail_of(format!("ledger row {}", l.row.row)),
                        ledger_part: rules.ledger_part(&l.row),
                        gateway_part: Fen::ZERO,
                    },
                )
                .map_err(db)?;
            }
            for _ in 0..ng {
                let g = next_gateway(&mut g_rows, &id)?;
                insert_diff(
                    conn,
                    &DiffRow {
                        class: Class::Duplicate,
                        order_id: &id,
                        system_id: &g.side.system_id,
                        ledger_id: None,
                        gateway_id: Some(g.id),
                        detail: &detail_of(format!("gateway order {}", g.side.system_id)),
                        ledger_part: Fen::ZERO,
                        gateway_part: rules.gateway_part(&g.side),
                    },
                )
                .map_err(db)?;
            }
            continue;
        }
        let l = if nl == 1 { Some(next_l()?) } else { None };
        let g = if ng == 1 {
            Some(next_gateway(&mut g_rows, &id)?)
        } else {
            None
        };
        let Some((class, detail)) = decide(
            l.as_ref().map(|l| &l.row),
            g.as_ref().map(|g| &g.side),
            rules,
        ) else {
            continue;
        };
        insert_diff(
            conn,
            &DiffRow {
                class,
                order_id: &id,
                system_id: g.as_ref().map_or("", |g| g.side.system_id.as_str()),
                ledger_id: l.as_ref().map(|l| l.id),
                gateway_id: g.as_ref().map(|g| g.id),
                detail: &detail,
                ledger_part: l.as_ref().map_or(Fen::ZERO, |l| rules.ledger_part(&l.row)),
                gateway_part: g
                    .as_ref()
                    .map_or(Fen::ZERO, |g| rules.gateway_part(&g.side)),
            },
        )
        .map_err(db)?;
    }
    Ok(())
}

/// The next ID of one side and how many rows it has there.
struct Heads<I> {
    rows: I,
    head: Option<(String, i64)>,
}

impl<I: Iterator<Item = rusqlite::Result<(String, i64)>>> Heads<I> {
    fn new(mut rows: I) -> Result<Heads<I>, ReconcileError> {
        let head = rows.next().transpose().map_err(|e| db_error(&e))?;
        Ok(Heads { rows, head })
    }

    /// The rows `id` has on this side (0 when none), moving past it.
    fn take(&mut self, id: &str) -> Result<i64, ReconcileError> {
        match &self.head {
            Some((head, n)) if head == id => {
                let n = *n;
                self.head = self.rows.next().transpose().map_err(|e| db_error(&e))?;
                Ok(n)
            }
            _ => Ok(0),
        }
    }
}

fn next_gateway<F>(
    rows: &mut rusqlite::MappedRows<'_, F>,
    id: &str,
) -> Result<KeyedGateway, ReconcileError>
where
    F: FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<KeyedGateway>,
{
    let g = rows
        .next()
        .ok_or_else(|| broken("a gateway order is missing"))?
        .map_err(|e| db_error(&e))?;
    if g.order_id == id {
        Ok(g)
    } else {
        Err(broken("the gateway orders are out of order"))
    }
}

/// The totals of every class and the two sums, by SQL over the work file; a sum that does
/// not fit is an error, never a wrapped number.
pub(super) fn totals(
    file: &Workfile,
    rules: &Rules,
) -> Result<(Vec<ClassTotal>, Fen, Fen), ReconcileError> {
    let conn = file.conn();
    let overflow = |e: rusqlite::Error| {
        ReconcileError::Io(format!(
            "the sums do not fit in 64-bit fen, or the work file cannot be read: {e}"
        ))
    };
    let mut classes = Vec::with_capacity(Class::ALL.len());
    let mut stmt = conn
        .prepare(
            "SELECT COUNT(DISTINCT order_id), COUNT(ledger_id), COUNT(gateway_id),
                    COALESCE(SUM(ledger_part), 0), COALESCE(SUM(gateway_part), 0)
             FROM diffs WHERE class = ?1",
        )
        .map_err(overflow)?;
    for class in Class::ALL {
        let (count, ledger_rows, gateway_orders, ledger, gateway) = stmt
            .query_row([class.id()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })
            .map_err(overflow)?;
        classes.push(ClassTotal {
            class,
            count: count.unsigned_abs(),
            ledger_rows: ledger_rows.unsigned_abs(),
            gateway_orders: gateway_orders.unsigned_abs(),
            ledger: Fen::from_fen(ledger),
            gateway: Fen::from_fen(gateway),
        });
    }
    let (from, to) = (rules.period.from_secs, rules.period.to_secs);
    let ledger_sum: i64 = conn
        .query_row(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger
             WHERE status = ?1 AND time_secs BETWEEN ?2 AND ?3",
            params![status_word(LedgerStatus::Credited), from, to],
            |r| r.get(0),
        )
        .map_err(overflow)?;
    let column = match rules.compare_with {
        CompareWith::Amount => "amount",
        CompareWith::RealAmount => "real_amount",
    };
    let gateway_sum: i64 = conn
        .query_row(
            &format!(
                "SELECT COALESCE(SUM({column}), 0) FROM gateway
                 WHERE status_class = 'success' AND create_time_secs BETWEEN ?1 AND ?2"
            ),
            params![from, to],
            |r| r.get(0),
        )
        .map_err(overflow)?;
    // The parts must add up to the whole without wrapping.
    let mut parts = Fen::ZERO;
    for t in &classes {
        parts = t
            .ledger
            .checked_sub(t.gateway)
            .and_then(|d| parts.checked_add(d))
            .ok_or_else(|| ReconcileError::Io("the sums do not fit in 64-bit fen".into()))?;
    }
    Fen::from_fen(ledger_sum)
        .checked_sub(Fen::from_fen(gateway_sum))
        .ok_or_else(|| ReconcileError::Io("the sums do not fit in 64-bit fen".into()))?;
    Ok((
        classes,
        Fen::from_fen(ledger_sum),
        Fen::from_fen(gateway_sum),
    ))
}
