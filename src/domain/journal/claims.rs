//! One sender per row: a payout (or GatePay batch) is claimed in a write transaction before
//! it is sent, so that two windows or two processes on the same data directory never both
//! send it; a claim left by a sender that died is settled by a lookup, never re-sent blind.

use std::collections::HashSet;
use std::sync::OnceLock;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::payouts::{COLUMNS, entry};
use super::{Entry, Journal, JournalError, State, mask_account, sha256_hex};
use crate::domain::dates::{GATEWAY_TZ, format_secs, zone};
use crate::gateway::cny::wire::PayoutRequest;

/// A claim older than this is taken to be dead when its holder's life cannot be told (another
/// host) or it is this process's own: a claim covers one request, which no HTTP timeout lets
/// run this long. A live process of this host keeps its claims whatever their age.
pub const STALE_CLAIM_SECS: i64 = 600;

/// What a claim found.
#[derive(Clone, Debug)]
pub enum Claim<E> {
    /// This sender holds the row now: send it.
    Claimed(E),
    /// Another live sender (window or process) is sending it: leave it alone.
    Busy { entry: E, claimer: String },
    /// A sender died while sending it: it is now unknown and must be looked up first.
    Stale { entry: E, claimer: String },
    /// Its state does not allow sending (accepted, already settled by someone else…).
    NotSendable(E),
}

/// This process's claimer: `host:pid:random`, so that a reused PID is not mistaken for the
/// sender that held a claim before.
pub fn claimer_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let random: String = crate::clock::NonceSource::nonce(&crate::clock::RandomNonce)
            .chars()
            .take(8)
            .collect();
        format!("{}:{}:{random}", this_host(), std::process::id())
    })
}

fn this_host() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().replace(':', "_"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether a process of this host still runs (a zombie does not count). Where that cannot be
/// told, it is taken as alive, and only the stale limit frees its claims.
pub(crate) fn pid_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") || !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_none_or(|state| !matches!(state, 'Z' | 'X')),
        Err(_) => false,
    }
}

/// Whether the sender that holds a claim may still be sending.
pub(crate) fn claim_is_live(claimed_by: Option<&str>, claimed_at: Option<i64>, now: i64) -> bool {
    let Some(claimer) = claimed_by else {
        // Written before claims existed: only a stopped Paydesk leaves such a row sending.
        return false;
    };
    // No single request runs this long: a claim of this process that old was left behind by
    // a send whose outcome could not be written.
    let stale = now - claimed_at.unwrap_or(0) > STALE_CLAIM_SECS;
    if claimer == claimer_id() {
        return !stale;
    }
    let mut parts = claimer.rsplitn(3, ':');
    let (_, pid, host) = (parts.next(), parts.next(), parts.next());
    let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
        return !stale;
    };
    if host != Some(this_host().as_str()) {
        // Whether it still runs cannot be told from here: only its age frees the claim.
        return !stale;
    }
    // A process of this host that still runs may still be sending, however long it takes:
    // its claim is never taken over. Same PID with another claimer is an earlier process
    // whose PID was reused.
    pid != std::process::id() && pid_alive(pid)
}

/// Why a row taken from a dead sender is unknown.
pub(crate) fn stopped_why(claimer: &str) -> String {
    if claimer.is_empty() {
        "Paydesk stopped while sending it".to_owned()
    } else {
        format!(
            "the Paydesk that was sending it ({claimer}) stopped: it is looked up at the gateway before anything is sent again"
        )
    }
}

/// The fields that decide where money goes, compared between the journal and the request.
pub(crate) fn mismatch(e: &Entry, r: &PayoutRequest) -> Option<String> {
    let stored = &e.request;
    let checks = [
        (
            "merchant order ID",
            stored.payout_cl_id == r.payout_cl_id && e.payout_cl_id == r.payout_cl_id,
        ),
        ("amount", stored.amount == r.amount && e.amount == r.amount),
        (
            "account",
            stored.number == r.number && e.account_masked == mask_account(&r.number),
        ),
        ("name", stored.name == r.name && e.recipient_name == r.name),
        (
            "bank",
            stored.bank_name == r.bank_name && e.bank_name == r.bank_name,
        ),
    ];
    let bad: Vec<&str> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(what, _)| *what)
        .collect();
    (!bad.is_empty()).then(|| format!("{} differ", bad.join(", ")))
}

/// A row being sent: its ID, who claimed it and when (Unix seconds).
type SendingRow = (String, Option<String>, Option<i64>);

/// The rows of `table` in the `sending` state with their claims.
fn sending_rows(
    conn: &rusqlite::Connection,
    table: &str,
    merchant: &str,
) -> Result<Vec<SendingRow>, JournalError> {
    let key = claim_key(table);
    let mut stmt = conn.prepare(&format!(
        "SELECT {key}, claimed_by, claimed_at FROM {table} WHERE merchant = ?1 AND state = 'sending'"
    ))?;
    let rows = stmt.query_map(params![merchant], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl Journal {
    /// Refuses any claim once the journal is known to be damaged.
    pub(crate) fn ensure_trusted(&self) -> Result<(), JournalError> {
        match self.damaged.why() {
            Some(why) => Err(super::health::damaged_error(&self.path, why)),
            None => Ok(()),
        }
    }

    /// Marks the journal damaged for the rest of the session and says so.
    pub(crate) fn mark_damaged(&mut self, why: String) -> JournalError {
        let e = super::health::damaged_error(&self.path, &why);
        self.damaged.set(why);
        e
    }

    /// Claims a payout for sending: reads its row back in a write transaction, compares it to
    /// the request about to be sent, and moves it to `sending` only from one of `from`.
    pub fn claim_payout(
        &mut self,
        merchant: &str,
        request: &PayoutRequest,
        body: &[u8],
        from: &[State],
        now: i64,
    ) -> Result<Claim<Entry>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.claim_payout(merchant, request, body, from, now)?);
        }
        self.ensure_trusted()?;
        let cl_id = &request.payout_cl_id;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                &format!(
                    "SELECT {COLUMNS}, claimed_by, claimed_at FROM payouts WHERE merchant = ?1 AND payout_cl_id = ?2"
                ),
                params![merchant, cl_id],
                |r| {
                    // The claim's columns come after every column `entry` reads.
                    let n = COLUMNS.split(',').count();
                    Ok((
                        entry(r),
                        r.get::<_, Option<String>>(n)?,
                        r.get::<_, Option<i64>>(n + 1)?,
                    ))
                },
            )
            .optional();
        let (read, claimed_by, claimed_at) = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Err(JournalError::NotFound(cl_id.clone())),
            Err(e) => {
                drop(tx);
                return Err(self.mark_damaged(format!("the row of {cl_id} does not read: {e}")));
            }
        };
        let mut e = match read {
            Ok(e) => e,
            Err(err) => {
                drop(tx);
                return Err(self.mark_damaged(format!("the row of {cl_id} does not read: {err}")));
            }
        };
        if let Some(what) = mismatch(&e, request) {
            return Err(JournalError::Mismatch {
                cl_id: cl_id.clone(),
                what,
            });
        }
        if from.contains(&e.state) {
            let hash = sha256_hex(body);
            tx.execute(
                "UPDATE payouts SET state = 'sending', attempts = attempts + 1, last_sent_at = ?3, body_sha256 = ?4,
                    claimed_by = ?5, claimed_at = ?3, updated_at = ?3 WHERE merchant = ?1 AND payout_cl_id = ?2",
                params![merchant, cl_id, now, hash, claimer_id()],
            )?;
            // The attempt and its body hash are durable with the claim, before a byte leaves.
            super::attempts::begin_send(&tx, merchant, cl_id, &hash, now)?;
            tx.commit()?;
            e.state = State::Sending;
            e.attempts += 1;
            e.last_sent_at = Some(now);
            e.body_sha256 = Some(hash);
            e.updated_at = now;
            return Ok(Claim::Claimed(e));
        }
        if e.state != State::Sending {
            return Ok(Claim::NotSendable(e));
        }
        let claimer = claimed_by.clone().unwrap_or_default();
        if claim_is_live(claimed_by.as_deref(), claimed_at, now) {
            return Ok(Claim::Busy { entry: e, claimer });
        }
        let why = stopped_why(&claimer);
        tx.execute(
            "UPDATE payouts SET state = 'unknown', unknown_why = ?3, next_check_at = ?4, updated_at = ?4
                WHERE merchant = ?1 AND payout_cl_id = ?2",
            params![merchant, cl_id, why, now],
        )?;
        tx.commit()?;
        e.state = State::Unknown;
        e.unknown_why = Some(why);
        Ok(Claim::Stale { entry: e, claimer })
    }

    /// The rows of `table` (`payouts` or `gatepay_batches`) being sent by a live sender.
    pub(crate) fn live_claims(
        &self,
        table: &str,
        merchant: &str,
        now: i64,
    ) -> Result<HashSet<String>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(if table == "payouts" {
                t.live_claims(merchant)?
            } else {
                t.live_batch_claims(merchant)?
            });
        }
        Ok(sending_rows(&self.conn, table, merchant)?
            .into_iter()
            .filter(|(_, by, at)| claim_is_live(by.as_deref(), *at, now))
            .map(|(id, _, _)| id)
            .collect())
    }

    /// Turns rows whose sender died while sending them into unknown outcomes (to be looked
    /// up); rows a live sender holds are left alone.
    pub(crate) fn settle_dead_claims(
        &mut self,
        table: &str,
        merchant: &str,
        now: i64,
    ) -> Result<usize, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(if table == "payouts" {
                t.settle_dead_claims(merchant, now)?
            } else {
                t.settle_dead_batch_claims(merchant, now)?
            });
        }
        let key = claim_key(table);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let dead: Vec<(String, String)> = sending_rows(&tx, table, merchant)?
            .into_iter()
            .filter(|(_, by, at)| !claim_is_live(by.as_deref(), *at, now))
            .map(|(id, by, _)| (id, by.unwrap_or_default()))
            .collect();
        for (id, by) in &dead {
            tx.execute(
                &format!(
                    "UPDATE {table} SET state = 'unknown', unknown_why = ?3, next_check_at = ?4, updated_at = ?4
                        WHERE merchant = ?1 AND {key} = ?2 AND state = 'sending'"
                ),
                params![merchant, id, stopped_why(by), now],
            )?;
        }
        tx.commit()?;
        Ok(dead.len())
    }

    /// After a crash, a payout caught while sending has an unknown outcome; one that another
    /// live Paydesk is sending is not touched.
    pub fn interrupted_to_unknown(
        &mut self,
        merchant: &str,
        now: i64,
    ) -> Result<usize, JournalError> {
        self.settle_dead_claims("payouts", merchant, now)
    }
}

/// An import row another live process is sending: its outcome is that process's to learn
/// and report, not an unknown outcome of this one.
#[derive(Clone, Debug, Serialize)]
pub struct SentElsewhere {
    pub payout_cl_id: String,
    pub claimer: String,
    /// The other process's ID, when its claim names one.
    pub pid: Option<u32>,
    /// When it claimed the row (Unix seconds).
    pub since: i64,
}

impl SentElsewhere {
    /// "`bulk_x_5` is being sent by another process (pid 4242, since …)".
    pub fn describe(&self) -> String {
        let who = self
            .pid
            .map_or_else(|| self.claimer.clone(), |p| format!("pid {p}"));
        let since = match zone(GATEWAY_TZ) {
            Ok(tz) => format!("{} ({GATEWAY_TZ})", format_secs(self.since, &tz)),
            Err(_) => format!("{} (Unix seconds)", self.since),
        };
        format!(
            "{} is being sent by another process ({who}, since {since})",
            self.payout_cl_id
        )
    }
}

impl Journal {
    /// The rows of an import that another live process (not this one) is sending now.
    pub fn import_sent_elsewhere(
        &self,
        merchant: &str,
        import_id: &str,
        now: i64,
    ) -> Result<Vec<SentElsewhere>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.import_sent_elsewhere(merchant, import_id)?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT payout_cl_id, claimed_by, claimed_at FROM payouts
                WHERE merchant = ?1 AND batch_id = ?2 AND state = 'sending' ORDER BY batch_row",
        )?;
        let rows = stmt.query_map(params![merchant, import_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
        let mut found = Vec::new();
        for row in rows {
            let (payout_cl_id, by, at) = row?;
            let Some(claimer) = by else { continue };
            if claimer == claimer_id() || !claim_is_live(Some(&claimer), at, now) {
                continue;
            }
            found.push(SentElsewhere {
                pid: claimer.rsplit(':').nth(1).and_then(|p| p.parse().ok()),
                payout_cl_id,
                claimer,
                since: at.unwrap_or_default(),
            });
        }
        Ok(found)
    }
}

fn claim_key(table: &str) -> &'static str {
    if table == "gatepay_batches" {
        "batch_id"
    } else {
        "payout_cl_id"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_of_dead_stale_and_foreign_senders() {
        let host = this_host();
        let now = 1_000_000;
        assert!(claim_is_live(Some(claimer_id()), Some(now), now), "ours");
        assert!(
            !claim_is_live(Some(claimer_id()), Some(now - STALE_CLAIM_SECS - 1), now),
            "ours, but stuck"
        );
        assert!(!claim_is_live(None, None, now), "from before claims");
        assert!(
            !claim_is_live(Some(&format!("{host}:999999999:x")), Some(now), now),
            "no such process"
        );
        assert!(
            claim_is_live(Some(&format!("{host}:1:x")), Some(now), now),
            "PID 1 runs"
        );
        assert!(
            claim_is_live(
                Some(&format!("{host}:1:x")),
                Some(now - STALE_CLAIM_SECS * 10),
                now
            ),
            "a live sender of this host keeps its claim however old"
        );
        assert!(
            !claim_is_live(
                Some(&format!("{host}:{}:other", std::process::id())),
                Some(now),
                now
            ),
            "our PID with another claimer: a process that had our PID before"
        );
        assert!(claim_is_live(Some("elsewhere:1:x"), Some(now), now));
        assert!(!claim_is_live(
            Some("elsewhere:1:x"),
            Some(now - STALE_CLAIM_SECS - 1),
            now
        ));
    }
}
