//! Likely duplicates are held back until the operator confirms each by name: a CNY payout
//! whose merchant, account digits and amount match a payout already in the journal (within a
//! window, default 7 days) or an earlier row of the same file, and a GatePay sub-order whose
//! `merchant_withdraw_id` was in an earlier batch or whose address, currency and amount match
//! a sub-order of an earlier batch within the window. Without a confirmation for every held
//! row, nothing is recorded or sent. The one rule for the CLI and the console.

mod cny;
mod confirm;
mod gap;
mod gatepay;
mod gatepay_gap;

pub(crate) use cny::{EarlierRow, ProbeHit, ProbeRow};
pub use confirm::{Confirmation, Seen};
pub use gap::GapOrder;

use std::fmt::Write as _;

use serde::Serialize;

use super::dates::{GATEWAY_TZ, format_secs, zone};
use super::journal::{Entry, State};
use crate::money::Fen;

/// The default window in which an equal earlier payout counts as a likely duplicate.
pub const DEFAULT_WINDOW_DAYS: u32 = 7;
/// The environment variable that sets the window (whole days).
pub const WINDOW_ENV: &str = "PAYDESK_DUPLICATE_WINDOW_DAYS";
/// Held rows described one by one; beyond this they are counted, so that a million-row file
/// imported twice does not hold a million descriptions in memory.
pub const LISTED_MAX: usize = 1_000;
/// Earlier payouts described per held row; the rest are counted.
pub const EARLIER_MAX: usize = 5;
/// The shortest window accepted: 0 days would turn the check off without a word.
pub const WINDOW_MIN_DAYS: u32 = 1;
/// The longest window accepted: a year (a leap one).
pub const WINDOW_MAX_DAYS: u32 = 366;

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "the duplicate window must be a whole number of days from {WINDOW_MIN_DAYS} to \
         {WINDOW_MAX_DAYS}, not “{0}” (the likely-duplicate check cannot be turned off: confirm \
         held rows with --allow-duplicate ID or --allow-duplicates)"
    )]
    Invalid(String),
}

/// How far back an equal payout counts as a likely duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateWindow {
    pub days: u32,
}

impl Default for DuplicateWindow {
    fn default() -> Self {
        DuplicateWindow {
            days: DEFAULT_WINDOW_DAYS,
        }
    }
}

impl DuplicateWindow {
    pub fn parse(text: &str) -> Result<DuplicateWindow, WindowError> {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (WINDOW_MIN_DAYS..=WINDOW_MAX_DAYS).contains(d))
            .map(|days| DuplicateWindow { days })
            .ok_or_else(|| WindowError::Invalid(text.to_owned()))
    }

    /// The flag when given, else the environment variable, else the default.
    pub fn resolve(
        flag: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DuplicateWindow, WindowError> {
        if let Some(days) = flag {
            return DuplicateWindow::parse(&days.to_string());
        }
        match env(WINDOW_ENV) {
            Some(text) if !text.trim().is_empty() => DuplicateWindow::parse(&text),
            _ => Ok(DuplicateWindow::default()),
        }
    }

    /// The earliest creation time (Unix seconds) still inside the window.
    pub fn since(self, now: i64) -> i64 {
        now.saturating_sub(i64::from(self.days) * 86_400)
    }
}

/// An earlier CNY payout in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlierPayout {
    pub payout_cl_id: String,
    pub amount: Fen,
    pub account_masked: String,
    pub state: State,
    pub payout_id: Option<String>,
    pub created_at: i64,
    /// The file import it came from, under the journal's older name in JSON.
    #[serde(rename = "batch_id")]
    pub import_id: Option<String>,
    #[serde(rename = "batch_row")]
    pub import_row: Option<i64>,
}

impl From<&Entry> for EarlierPayout {
    fn from(e: &Entry) -> Self {
        EarlierPayout {
            payout_cl_id: e.payout_cl_id.clone(),
            amount: e.amount,
            account_masked: e.account_masked.clone(),
            state: e.state,
            payout_id: e.payout_id.clone(),
            created_at: e.created_at,
            import_id: e.import_id.clone(),
            import_row: e.import_row,
        }
    }
}

/// A sub-order of an earlier GatePay batch in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlierSubOrder {
    pub batch_id: String,
    pub batch_state: State,
    pub batch_status: Option<String>,
    pub created_at: i64,
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: String,
    pub address: String,
    /// The match is by `merchant_withdraw_id` (otherwise by address, currency and amount).
    pub same_id: bool,
}

/// What a held row matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Earlier {
    /// A payout in the journal.
    Journal(EarlierPayout),
    /// An earlier row of the same file (same account and amount).
    SameFile { row: usize, id: String },
    /// A sub-order of an earlier GatePay batch.
    Batch(EarlierSubOrder),
    /// A payout at the gateway the journal does not know, made after its restored copy.
    Gateway(GapOrder),
}

fn when(secs: i64) -> String {
    match zone(GATEWAY_TZ) {
        Ok(tz) => format!("{} ({GATEWAY_TZ})", format_secs(secs, &tz)),
        Err(_) => format!("{secs} (Unix seconds)"),
    }
}

impl Earlier {
    /// What names this match, the same in a review and in the send that follows it.
    pub fn key(&self) -> String {
        match self {
            Earlier::Journal(p) => format!("journal:{}", p.payout_cl_id),
            Earlier::SameFile { row, id } => format!("row:{row}:{id}"),
            Earlier::Batch(b) => format!("batch:{}:{}", b.batch_id, b.merchant_withdraw_id),
            Earlier::Gateway(g) => format!("gateway:{}", g.payout_id),
        }
    }

    /// When and how the earlier one was paid, in one line.
    pub fn describe(&self) -> String {
        match self {
            Earlier::Journal(p) => {
                let mut s = format!(
                    "payout {} of {} to {}, {}",
                    p.payout_cl_id,
                    p.amount,
                    p.account_masked,
                    p.state.describe()
                );
                if let Some(id) = &p.payout_id {
                    let _ = write!(s, " (payout ID {id})");
                }
                let _ = write!(s, ", created {}", when(p.created_at));
                if let (Some(b), Some(r)) = (&p.import_id, p.import_row) {
                    let _ = write!(s, ", row {r} of import {b}");
                }
                s
            }
            Earlier::SameFile { row, id } => {
                format!("row {row} of this file ({id}): the same account and amount")
            }
            Earlier::Gateway(g) => g.describe(),
            Earlier::Batch(b) => {
                let mut s = format!(
                    "sub-order {} of batch {}: {} {} to {}, {}",
                    b.merchant_withdraw_id,
                    b.batch_id,
                    b.amount,
                    b.currency,
                    b.address,
                    b.batch_state.describe()
                );
                if let Some(st) = &b.batch_status {
                    let _ = write!(s, ", GatePay status {st}");
                }
                let _ = write!(
                    s,
                    ", created {}; {}",
                    when(b.created_at),
                    if b.same_id {
                        "the same merchant withdraw ID"
                    } else {
                        "the same address, currency and amount"
                    }
                );
                s
            }
        }
    }
}

/// One row held back as a likely duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldRow {
    /// Its row in the file (none for a payout typed in).
    pub row: Option<usize>,
    /// The name to confirm it by: its merchant order ID or merchant withdraw ID.
    pub id: String,
    /// "¥1,234.56 to 6216 **** 4374".
    pub what: String,
    pub earlier: Vec<Earlier>,
    /// Further matches, counted only.
    pub more_earlier: usize,
    pub confirmed: bool,
    /// Matches found at the send that the operator was not shown when confirming the row
    /// (described); the row is held again until reviewed again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<String>,
    /// More unlisted matches were found at the send than the review counted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unseen_more: bool,
}

impl HeldRow {
    /// "row 5, `bulk_x_5` (¥10.00 to 6216 **** 4374) is held back, likely duplicate of:" and
    /// its matches.
    pub fn describe(&self) -> String {
        let mut s = match self.row {
            Some(r) => format!("row {r}, {} ({})", self.id, self.what),
            None => format!("{} ({})", self.id, self.what),
        };
        s.push_str(if self.confirmed {
            " — confirmed, likely duplicate of:"
        } else {
            " is held back, likely duplicate of:"
        });
        if !self.unseen.is_empty() || self.unseen_more {
            s.push_str("\n    a new likely duplicate appeared since the review: ");
            if self.unseen.is_empty() {
                s.push_str("more matches than were shown");
            } else {
                s.push_str(&self.unseen.join("; "));
            }
            s.push_str("; review again");
        }
        for e in &self.earlier {
            let _ = write!(s, "\n    {}", e.describe());
        }
        if self.more_earlier > 0 {
            let _ = write!(s, "\n    and {} more", self.more_earlier);
        }
        s
    }
}

/// The likely duplicates of a file, a batch or one payout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateReport {
    /// The held rows, in file order, at most [`LISTED_MAX`].
    pub held: Vec<HeldRow>,
    pub held_total: usize,
    pub unconfirmed_total: usize,
    pub window_days: u32,
}

impl DuplicateReport {
    /// Nothing is held back without a confirmation.
    pub fn is_clear(&self) -> bool {
        self.unconfirmed_total == 0
    }

    /// The rules that held the unconfirmed rows back, by the matches listed: a payout typed in
    /// was told of "twice in this file", and one held by the gateway's payouts after a restore
    /// of "the same account", neither of which had happened.
    fn rules(&self) -> String {
        let (mut journal, mut file, mut gateway, mut batch) = (false, false, false, false);
        for e in self
            .held
            .iter()
            .filter(|h| !h.confirmed)
            .flat_map(|h| &h.earlier)
        {
            match e {
                Earlier::Journal(_) => journal = true,
                Earlier::SameFile { .. } => file = true,
                Earlier::Gateway(_) => gateway = true,
                Earlier::Batch(_) => batch = true,
            }
        }
        let days = self.window_days;
        let mut rules = Vec::new();
        if journal {
            rules.push(format!(
                "the same account and amount as a payout within {days} day(s)"
            ));
        }
        if file {
            rules.push("the same account and amount as an earlier row of this file".to_owned());
        }
        if gateway {
            rules.push(
                "a payout the gateway made after the journal's restored copy, of the same amount \
                 or whose signature failed"
                    .to_owned(),
            );
        }
        if batch {
            rules.push(format!(
                "the merchant withdraw ID of a sub-order of an earlier batch, or its address, \
                 currency and amount within {days} day(s)"
            ));
        }
        if rules.is_empty() {
            // Every held row is beyond those listed one by one.
            rules.push(format!(
                "the same account and amount within {days} day(s), or twice in this file"
            ));
        }
        rules.join("; or ")
    }

    /// Why nothing was sent, with every listed match and the way to confirm.
    pub fn refusal(&self) -> String {
        let mut s = format!(
            "{} of {} likely duplicate(s) not confirmed ({}); nothing was sent:",
            self.unconfirmed_total,
            self.held_total,
            self.rules()
        );
        for h in self.held.iter().filter(|h| !h.confirmed) {
            let _ = write!(s, "\n  {}", h.describe());
        }
        let unlisted = self.held_total - self.held.len();
        if unlisted > 0 {
            let _ = write!(s, "\n  and {unlisted} more held row(s) not listed");
        }
        s
    }

    /// The audit line of the confirmations: who confirmed which ID against which payout.
    fn audit_detail(&self) -> String {
        let mut s = format!("{} likely duplicate(s) confirmed", self.held_total);
        for h in &self.held {
            let against: Vec<String> = h
                .earlier
                .iter()
                .map(|e| match e {
                    Earlier::Journal(p) => p.payout_cl_id.clone(),
                    Earlier::SameFile { row, id } => format!("{id} (row {row})"),
                    Earlier::Batch(b) => {
                        format!("{} of batch {}", b.merchant_withdraw_id, b.batch_id)
                    }
                    Earlier::Gateway(g) => format!("gateway payout {}", g.payout_id),
                })
                .collect();
            let _ = write!(s, "; {} against {}", h.id, against.join(", "));
        }
        let unlisted = self.held_total - self.held.len();
        if unlisted > 0 {
            let _ = write!(s, "; and {unlisted} more");
        }
        s
    }

    /// Checks each confirmed row described one by one against what its confirmation covers,
    /// once all its matches are known: a row confirmed against the matches a review showed is
    /// held again when a match appeared since. Idempotent.
    pub fn settle(&mut self, confirm: &Confirmation) {
        for h in &mut self.held {
            let (confirmed, unseen, more) = match confirm.seen(&h.id) {
                None => (false, Vec::new(), false),
                Some(seen) => {
                    let (unseen, more) = seen.unseen(h);
                    (unseen.is_empty() && !more, unseen, more)
                }
            };
            match (h.confirmed, confirmed) {
                (true, false) => self.unconfirmed_total += 1,
                (false, true) => self.unconfirmed_total -= 1,
                _ => {}
            }
            h.confirmed = confirmed;
            h.unseen = unseen;
            h.unseen_more = more;
        }
    }

    fn push(&mut self, row: HeldRow) {
        self.held_total += 1;
        if !row.confirmed {
            self.unconfirmed_total += 1;
        }
        if self.held.len() < LISTED_MAX {
            self.held.push(row);
        }
    }
}

/// Nothing sent: likely duplicates wait for a confirmation, or the journal or gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError<E> {
    #[error("{}", .0.refusal())]
    Held(Box<DuplicateReport>),
    #[error(transparent)]
    Other(#[from] E),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_of_zero_days_or_over_a_year_is_refused_never_a_silent_off() {
        for text in ["0", " 0 ", "00", "367", "3660"] {
            let err = DuplicateWindow::parse(text).unwrap_err().to_string();
            assert!(err.contains("from 1 to 366"), "{text}: {err}");
        }
        assert!(DuplicateWindow::resolve(Some(0), |_| None).is_err());
        assert!(DuplicateWindow::resolve(None, |_| Some("0".into())).is_err());
        assert_eq!(DuplicateWindow::parse("1").unwrap().days, 1);
    }

    #[test]
    fn window_comes_from_the_flag_then_the_environment() {
        assert_eq!(DuplicateWindow::resolve(None, |_| None).unwrap().days, 7);
        assert_eq!(
            DuplicateWindow::resolve(None, |_| Some("30".into()))
                .unwrap()
                .days,
            30
        );
        assert_eq!(
            DuplicateWindow::resolve(Some(1), |_| Some("30".into()))
                .unwrap()
                .days,
            1
        );
        assert!(DuplicateWindow::resolve(None, |_| Some("-1".into())).is_err());
        assert_eq!(DuplicateWindow::parse("366").unwrap().days, 366);
        assert_eq!(
            DuplicateWindow { days: 7 }.since(700_000),
            700_000 - 604_800
        );
    }

    #[test]
    fn a_refusal_names_the_rule_that_held_the_payout_back() {
        let mut report = DuplicateReport {
            window_days: 7,
            ..DuplicateReport::default()
        };
        report.push(HeldRow {
            row: None,
            id: "pd_1".into(),
            what: "¥321.00 to 6222 **** 1111".into(),
            earlier: vec![Earlier::Gateway(GapOrder {
                payout_id: "POT1".into(),
                payout_cl_id: "pd_0".into(),
                amount: None,
                created_at: Some(1_796_306_358),
                verified: false,
            })],
            more_earlier: 0,
            unseen: Vec::new(),
            unseen_more: false,
            confirmed: false,
        });
        let said = report.refusal();
        assert!(!said.contains("twice in this file"), "{said}");
        assert!(!said.contains("same account"), "{said}");
        assert!(
            said.contains("a payout the gateway made after the journal's restored copy"),
            "{said}"
        );
    }
}
