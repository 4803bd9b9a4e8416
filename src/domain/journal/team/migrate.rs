//! Carrying a desktop journal (SQLite) over to the team journal (`paydesk journal migrate`):
//! its CNY payouts and its audit chain, checked before and after, in one PostgreSQL
//! transaction, so that a team either has all of a desktop's journal or none of it.
//!
//! The desktop journal is only read (opened read-only, under the exclusive lock a restore
//! takes, so no Paydesk sends from it meanwhile) and stays as it was. A payout the team
//! journal already holds under the same merchant order ID with a different content is a
//! clash: nothing is migrated. The same payout already there is skipped, so a second run
//! changes nothing.
//!
//! A desktop journal is named by its *source ID*: `desktop-` and the first 32 hex digits of
//! SHA-256 over its first audit entry's hash (or, in a journal without audit entries, over its
//! first payout's merchant, merchant order ID and creation time). Neither changes as a
//! journal grows or is copied, renamed or restored from a backup, and each differs between
//! two desktops' journals.

use std::path::{Path, PathBuf};

use postgres::{Client, GenericClient, Transaction};
use rusqlite::{Connection, OpenFlags};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::TeamError;
use super::connect::off_runtime;
use super::schema;
use super::store::db_error;
use crate::domain::journal::health::{
    check_header, checked_payout_columns, lock, read_checked_payout,
};
use crate::domain::journal::{
    APPLICATION_ID, AuditCheck, Entry, SCHEMA_VERSION, State, account_fingerprint, audit_hash,
};

/// Why a payout that was being sent when the desktop journal was migrated is unknown.
pub const MIGRATED_MID_SEND: &str = "the desktop journal was migrated while this payout was being sent: \
     it is looked up at the gateway before anything else";

/// The team-chain action that records a migration.
pub const MIGRATED_ACTION: &str = "journal migrated";

/// The oldest desktop schema read as it is: from version 3 a merchant is its `platform_id`
/// and every payout column the team journal keeps exists.
const OLDEST_SOURCE_SCHEMA: i64 = 3;
/// Clashing payouts named in a refusal before the rest are only counted.
const CLASHES_SHOWN: usize = 20;
/// Audit entries sent to the server per statement, and read back per page.
const AUDIT_PAGE: usize = 1000;

/// How to migrate.
#[derive(Clone, Copy, Debug)]
pub struct MigrateOptions {
    /// Unix seconds: the time a payout being sent becomes unknown at.
    pub now: i64,
    /// Check everything, write nothing (the transaction is rolled back).
    pub dry_run: bool,
}

/// What a migration did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationOutcome {
    /// Copied and committed.
    Migrated,
    /// Everything of this desktop journal is in the team journal already: nothing written.
    AlreadyMigrated,
    /// The desktop journal holds no payouts and no audit entries.
    NothingToMigrate,
    /// Checked, nothing written (`--dry-run`): the counts say what a migration would do.
    DryRun,
}

/// What stays in the desktop journal: the team journal has no place for it yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeftBehind {
    /// Each send and check of a payout (the payouts themselves carry their counts).
    pub attempts: usize,
    /// GatePay batches, every one of them final (an unfinished one refuses the migration).
    pub gatepay_batches: usize,
    /// Notifications received.
    pub notifications: usize,
    /// Periods a restore from an older copy could not vouch for.
    pub restore_gaps: usize,
}

/// What `migrate` found and did.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationReport {
    pub outcome: MigrationOutcome,
    pub source_id: String,
    pub source_file: PathBuf,
    /// CNY payouts in the desktop journal.
    pub source_payouts: usize,
    /// Payouts recorded in the team journal.
    pub payouts_copied: usize,
    /// Payouts the team journal already held as they are: skipped.
    pub payouts_already_there: usize,
    /// Of those copied: being sent in the desktop journal, now unknown (to be looked up).
    pub sending_made_unknown: usize,
    /// Of those copied: queued and above the merchant's approval threshold.
    pub awaiting_approval: usize,
    /// Audit entries of the desktop journal copied to `paydesk.migrated_audit`.
    pub audit_entries_copied: usize,
    /// The desktop chain's last hash (`None`: it has no entries).
    pub source_head: Option<String>,
    pub left_in_desktop: LeftBehind,
    /// The desktop journal's chain, walked before anything was copied.
    #[serde(serialize_with = "check_json")]
    pub source_chain: AuditCheck,
    /// This desktop journal's chain as the team journal holds it, walked after the copy.
    #[serde(serialize_with = "check_json")]
    pub migrated_chain: AuditCheck,
    /// The team's own chain, walked after the migration's entry was appended.
    #[serde(serialize_with = "check_json")]
    pub team_chain: AuditCheck,
}

fn check_json<S: Serializer>(check: &AuditCheck, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Json {
        intact: bool,
        entries: Option<usize>,
        broken_at: Option<i64>,
    }
    match *check {
        AuditCheck::Intact(n) => Json {
            intact: true,
            entries: Some(n),
            broken_at: None,
        },
        AuditCheck::BrokenAt(id) => Json {
            intact: false,
            entries: None,
            broken_at: Some(id),
        },
    }
    .serialize(s)
}

/// Copies the desktop journal at `source` into the team journal `owner` is connected to, as
/// its owner (only the owner may record payouts already sent). See the module's notes.
pub fn migrate(
    source: &Path,
    owner: &mut Client,
    opts: MigrateOptions,
) -> Result<MigrationReport, TeamError> {
    off_runtime(|| migrate_here(source, owner, opts))
}

fn refuse(source: &Path, why: impl std::fmt::Display) -> TeamError {
    TeamError::Refused(format!(
        "the desktop journal {} cannot be migrated: {why}; nothing was migrated",
        source.display()
    ))
}

fn migrate_here(
    source: &Path,
    owner: &mut Client,
    opts: MigrateOptions,
) -> Result<MigrationReport, TeamError> {
    let desktop = Desktop::open(source)?;
    let survey = desktop.survey()?;
    if let AuditCheck::BrokenAt(id) = survey.chain {
        return Err(refuse(
            source,
            format!(
                "its audit chain is broken at entry {id} (edited or damaged); `paydesk journal check {}` shows it",
                source.display()
            ),
        ));
    }
    if survey.unfinished_batches.1 > 0 {
        let (shown, count) = &survey.unfinished_batches;
        return Err(refuse(
            source,
            format!(
                "{count} GatePay batch(es) are not final ({}): the team journal cannot hold GatePay batches yet; \
                 settle them with `paydesk gatepay reconcile` on this desktop first",
                shown.join(", ")
            ),
        ));
    }

    schema::check(owner)?;
    let who = owner
        .query_one("SELECT session_user::text, paydesk.owner()", &[])
        .map_err(db_error)?;
    let (me, journal_owner): (String, String) = (who.get(0), who.get(1));
    if me != journal_owner {
        return Err(TeamError::Refused(format!(
            "only the team journal's owner ({journal_owner}) may migrate a desktop journal; this connection is {me}"
        )));
    }

    let mut tx = owner.transaction().map_err(db_error)?;
    // The team chain's lock, held to the end: no operator's entry lands between the check for
    // an earlier migration and this one's entry.
    tx.execute("SELECT pg_advisory_xact_lock(7305940)", &[])
        .map_err(db_error)?;
    let earlier = earlier_migration(&mut tx, &survey.source_id)?;
    let same_source = match &earlier {
        None => false,
        Some(head) if *head == survey.head => true,
        Some(head) => {
            return Err(refuse(
                source,
                format!(
                    "it was migrated before (source {}) up to audit head {}, and its chain has changed since \
                     (now {} entries, head {}): it was used after the migration; compare it with the team journal \
                     before anything else",
                    survey.source_id,
                    head.as_deref().unwrap_or("none"),
                    survey.entries,
                    survey.head.as_deref().unwrap_or("none"),
                ),
            ));
        }
    };

    let copied = copy_payouts(&desktop, &mut tx, source, same_source, opts.now)?;
    let audit_copied = if same_source {
        0
    } else {
        copy_audit(&desktop, &mut tx, &survey)?
    };
    let mut report = MigrationReport {
        outcome: MigrationOutcome::Migrated,
        source_id: survey.source_id.clone(),
        source_file: source.to_path_buf(),
        source_payouts: survey.payouts,
        payouts_copied: copied.copied,
        payouts_already_there: copied.already_there,
        sending_made_unknown: copied.made_unknown,
        awaiting_approval: copied.awaiting_approval,
        audit_entries_copied: audit_copied,
        source_head: survey.head.clone(),
        left_in_desktop: survey.left.clone(),
        source_chain: survey.chain,
        migrated_chain: AuditCheck::Intact(0),
        team_chain: AuditCheck::Intact(0),
    };
    let nothing_new = copied.copied == 0 && audit_copied == 0;
    if !nothing_new {
        let detail = migration_detail(&report);
        tx.execute(
            "SELECT paydesk.audit_append($1, $2, NULL)",
            &[&MIGRATED_ACTION, &detail],
        )
        .map_err(db_error)?;
    }

    report.migrated_chain = verify_migrated(&mut tx, &survey)?;
    if report.migrated_chain != AuditCheck::Intact(survey.entries) {
        return Err(TeamError::Corrupt(format!(
            "the copy of source {}'s audit chain does not check ({:?}, {} entries expected): nothing was migrated",
            survey.source_id, report.migrated_chain, survey.entries
        )));
    }
    report.team_chain = verify_chain(
        &mut tx,
        "SELECT id, at, actor, action, detail, prev_hash, hash FROM paydesk.audit
         WHERE id > $1 ORDER BY id LIMIT 1000",
        None,
    )?
    .0;
    if let AuditCheck::BrokenAt(id) = report.team_chain {
        return Err(TeamError::Corrupt(format!(
            "the team journal's audit chain is broken at entry {id}: nothing was migrated"
        )));
    }

    report.outcome = if nothing_new {
        if survey.payouts == 0 && survey.entries == 0 {
            MigrationOutcome::NothingToMigrate
        } else {
            MigrationOutcome::AlreadyMigrated
        }
    } else if opts.dry_run {
        MigrationOutcome::DryRun
    } else {
        MigrationOutcome::Migrated
    };
    if report.outcome == MigrationOutcome::Migrated {
        tx.commit().map_err(db_error)?;
    } else {
        tx.rollback().map_err(db_error)?;
    }
    Ok(report)
}

/// The team-chain entry of a migration: it starts `source ID:`, which is how a later run
/// finds it.
fn migration_detail(r: &MigrationReport) -> String {
    let file = r
        .source_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let l = &r.left_in_desktop;
    format!(
        "source {}: file {file}; {} payout(s) copied ({} being sent made unknown), {} already in the team journal; \
         {} audit entries copied, head {}; left in the desktop journal: {} attempt(s), {} GatePay batch(es), \
         {} notification(s)",
        r.source_id,
        r.payouts_copied,
        r.sending_made_unknown,
        r.payouts_already_there,
        r.audit_entries_copied,
        r.source_head.as_deref().unwrap_or("none"),
        l.attempts,
        l.gatepay_batches,
        l.notifications,
    )
}

/// The head this source was migrated with before: `None` if never; `Some(None)` if it was,
/// without audit entries.
#[allow(clippy::option_option)] // never, or once with or without a head
fn earlier_migration(
    tx: &mut Transaction<'_>,
    source_id: &str,
) -> Result<Option<Option<String>>, TeamError> {
    let row = tx
        .query_one(
            "SELECT (SELECT hash FROM paydesk.migrated_audit WHERE source = $1 ORDER BY seq DESC LIMIT 1),
                    EXISTS (SELECT 1 FROM paydesk.audit WHERE action = $2 AND actor = paydesk.owner()
                            AND starts_with(detail, $3))",
            &[&source_id, &MIGRATED_ACTION, &format!("source {source_id}:")],
        )
        .map_err(db_error)?;
    let head: Option<String> = row.get(0);
    let recorded: bool = row.get(1);
    Ok((head.is_some() || recorded).then_some(head))
}

/// The desktop journal, open read-only in one read transaction (one snapshot throughout),
/// under the exclusive lock beside it.
struct Desktop {
    conn: Connection,
    _lock: Option<std::fs::File>,
}

impl Desktop {
    fn open(path: &Path) -> Result<Desktop, TeamError> {
        check_header(path).map_err(|why| refuse(path, why))?;
        // Exclusive: no Paydesk has it open, so nothing is sent from it while it is copied.
        let lock = lock(path, true).map_err(|e| refuse(path, e))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| refuse(path, e))?;
        let sql = |e: rusqlite::Error| refuse(path, e);
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let integrity: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.take(3).collect())
            .map_err(sql)?;
        if integrity != ["ok"] {
            return Err(refuse(
                path,
                format!("SQLite's integrity check: {}", integrity.join("; ")),
            ));
        }
        let app: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if app != APPLICATION_ID {
            return Err(refuse(
                path,
                format!("it is not a Paydesk journal (application ID {app:#x})"),
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(refuse(
                path,
                format!(
                    "it was written by a newer Paydesk (schema version {version}; this one knows up to {SCHEMA_VERSION})"
                ),
            ));
        }
        if version < OLDEST_SOURCE_SCHEMA {
            return Err(refuse(
                path,
                format!(
                    "it is at schema version {version}: open it once with this Paydesk (any `paydesk payout list` \
                     with PAYDESK_DATA_DIR set to its folder) to bring it up to date"
                ),
            ));
        }
        conn.execute_batch("BEGIN").map_err(sql)?;
        Ok(Desktop { conn, _lock: lock })
    }

    fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            [name],
            |r| r.get(0),
        )
    }

    fn count(&self, table: &str) -> rusqlite::Result<usize> {
        if !self.has_table(table)? {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Everything known before a byte is written: the chain walked, the counts, the ID.
    fn survey(&self) -> Result<Survey, TeamError> {
        let read = |e: rusqlite::Error| {
            TeamError::Refused(format!("the desktop journal cannot be read: {e}"))
        };
        let (chain, first, head) = self.walk_chain().map_err(read)?;
        let entries = match chain {
            AuditCheck::Intact(n) => n,
            AuditCheck::BrokenAt(_) => 0,
        };
        let first_payout: Option<(String, String, i64)> = self
            .conn
            .query_row(
                "SELECT merchant, payout_cl_id, created_at FROM payouts ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(read)?;
        let mut h = Sha256::new();
        match (&first, &first_payout) {
            (Some(hash), _) => h.update(format!("paydesk desktop journal\n{hash}")),
            (None, Some((m, id, at))) => {
                h.update(format!(
                    "paydesk desktop journal without audit\n{m}\0{id}\0{at}"
                ));
            }
            (None, None) => h.update("paydesk empty desktop journal"),
        }
        let source_id = format!("desktop-{}", &hex::encode(h.finalize())[..32]);

        let mut unfinished = (Vec::new(), 0usize);
        if self.has_table("gatepay_batches").map_err(read)? {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT merchant || '/' || batch_id FROM gatepay_batches
                     WHERE NOT (state = 'rejected' OR (state = 'accepted' AND is_final <> 0)) ORDER BY id",
                )
                .map_err(read)?;
            let mut rows = stmt.query([]).map_err(read)?;
            while let Some(r) = rows.next().map_err(read)? {
                if unfinished.0.len() < CLASHES_SHOWN {
                    unfinished.0.push(r.get(0).map_err(read)?);
                }
                unfinished.1 += 1;
            }
        }
        Ok(Survey {
            source_id,
            chain,
            entries,
            head,
            payouts: self.count("payouts").map_err(read)?,
            unfinished_batches: unfinished,
            left: LeftBehind {
                attempts: self.count("attempts").map_err(read)?,
                gatepay_batches: self.count("gatepay_batches").map_err(read)?,
                notifications: self.count("notifications").map_err(read)?,
                restore_gaps: self.count("restore_gaps").map_err(read)?,
            },
        })
    }

    /// Walks the desktop chain: the verdict, the first entry's hash and the last one's.
    fn walk_chain(&self) -> rusqlite::Result<(AuditCheck, Option<String>, Option<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = String::new();
        let mut first = None;
        let mut count = 0;
        while let Some(r) = rows.next()? {
            let a = AuditRow::read(r)?;
            if a.prev_hash != prev || a.hash != a.recomputed(&prev) {
                return Ok((AuditCheck::BrokenAt(a.id), first, None));
            }
            first.get_or_insert_with(|| a.hash.clone());
            prev = a.hash;
            count += 1;
        }
        Ok((
            AuditCheck::Intact(count),
            first,
            (count > 0).then_some(prev),
        ))
    }
}

/// What the first pass over the desktop journal found.
struct Survey {
    source_id: String,
    chain: AuditCheck,
    entries: usize,
    head: Option<String>,
    payouts: usize,
    /// Unfinished GatePay batches: the first few, and how many.
    unfinished_batches: (Vec<String>, usize),
    left: LeftBehind,
}

struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

impl AuditRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
        Ok(AuditRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            detail: r.get(4)?,
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    }

    fn recomputed(&self, prev: &str) -> String {
        audit_hash(prev, self.at, &self.actor, &self.action, &self.detail)
    }
}

#[derive(Default)]
struct PayoutCounts {
    copied: usize,
    already_there: usize,
    made_unknown: usize,
    awaiting_approval: usize,
}

const INSERT_PAYOUT: &str = "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name,
    recipient_name, account_masked, account_fingerprint, request_json, state, payout_id, reject_code,
    reject_meaning, reject_message, unknown_why, gateway_status, gateway_status_label, is_final, final_at,
    attempts, checks, next_check_at, last_sent_at, body_sha256, import_id, import_row, created_at, updated_at,
    unverified_at, origin, created_by, approval)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
    $23, $24, $25, $26, $27, $28, $29, '', '')
 ON CONFLICT (merchant, payout_cl_id) DO NOTHING
 RETURNING approval";

/// Copies the desktop's payouts one by one as they are read (never all in memory). A payout
/// already there under its merchant order ID is skipped if it is the same payout (and, on a
/// first migration of this source, in the same state); else it clashes, and after the first
/// clash the rest are only compared, to name them all.
fn copy_payouts(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
    source: &Path,
    same_source: bool,
    now: i64,
) -> Result<PayoutCounts, TeamError> {
    let read = |e: rusqlite::Error| refuse(source, format!("its payouts cannot be read: {e}"));
    let insert = tx.prepare(INSERT_PAYOUT).map_err(db_error)?;
    let existing = tx
        .prepare(
            "SELECT amount_fen, account_fingerprint, recipient_name, bank_name, state FROM paydesk.payouts
             WHERE merchant = $1 AND payout_cl_id = $2",
        )
        .map_err(db_error)?;
    let mut stmt = desktop
        .conn
        .prepare(&format!(
            "SELECT {} FROM payouts ORDER BY id",
            checked_payout_columns()
        ))
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut done = PayoutCounts::default();
    let mut clashes: Vec<String> = Vec::new();
    let mut clash_count = 0usize;
    while let Some(r) = rows.next().map_err(read)? {
        let e = read_checked_payout(r).map_err(|why| refuse(source, why))?;
        let request_json: String = r.get(26).map_err(read)?;
        let fingerprint = account_fingerprint(&e.request.number);
        let (state, unknown_why, next_check_at, updated_at) = if e.state == State::Sending {
            (
                State::Unknown,
                Some(MIGRATED_MID_SEND.to_owned()),
                Some(now),
                now,
            )
        } else {
            (
                e.state,
                e.unknown_why.clone(),
                e.next_check_at,
                e.updated_at,
            )
        };
        if clash_count == 0 {
            let inserted = tx
                .query_opt(
                    &insert,
                    &[
                        &e.merchant,
                        &e.payout_cl_id,
                        &e.amount.fen(),
                        &e.bank_name,
                        &e.recipient_name,
                        &e.account_masked,
                        &fingerprint,
                        &request_json,
                        &state.as_str(),
                        &e.payout_id,
                        &e.reject_code,
                        &e.reject_meaning,
                        &e.reject_message,
                        &unknown_why,
                        &e.gateway_status,
                        &e.gateway_status_label,
                        &e.is_final,
                        &e.final_at,
                        &e.attempts,
                        &e.checks,
                        &next_check_at,
                        &e.last_sent_at,
                        &e.body_sha256,
                        &e.import_id,
                        &e.import_row,
                        &e.created_at,
                        &updated_at,
                        &e.unverified_at,
                        &e.origin,
                    ],
                )
                .map_err(|err| match db_error(err) {
                    TeamError::Refused(why) => refuse(source, why),
                    other => other,
                })?;
            if let Some(row) = inserted {
                done.copied += 1;
                done.made_unknown += usize::from(e.state == State::Sending);
                done.awaiting_approval += usize::from(row.get::<_, String>(0) == "pending");
                continue;
            }
        }
        let there = tx
            .query_opt(&existing, &[&e.merchant, &e.payout_cl_id])
            .map_err(db_error)?;
        let Some(there) = there else {
            // Only after a clash, when nothing is inserted any more: not a clash itself.
            continue;
        };
        let differs = differences(&e, &fingerprint, state, &there, same_source);
        if differs.is_empty() {
            done.already_there += 1;
        } else {
            if clashes.len() < CLASHES_SHOWN {
                clashes.push(format!(
                    "{}/{} ({})",
                    e.merchant,
                    e.payout_cl_id,
                    differs.join(", ")
                ));
            }
            clash_count += 1;
        }
    }
    if clash_count > 0 {
        let more = clash_count - clashes.len();
        return Err(refuse(
            source,
            format!(
                "{clash_count} payout(s) clash with the team journal (the same merchant order ID, a different payout or state): {}{}",
                clashes.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
    }
    Ok(done)
}

/// What differs between a desktop payout and the team journal's row of the same ID. The
/// state counts on a first migration only: once a source is migrated, the team moves its
/// payouts on.
fn differences(
    e: &Entry,
    fingerprint: &str,
    state: State,
    there: &postgres::Row,
    same_source: bool,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if there.get::<_, i64>(0) != e.amount.fen() {
        out.push("amount");
    }
    if there.get::<_, String>(1) != fingerprint {
        out.push("account");
    }
    if there.get::<_, String>(2) != e.recipient_name {
        out.push("name");
    }
    if there.get::<_, String>(3) != e.bank_name {
        out.push("bank");
    }
    if !same_source && there.get::<_, String>(4) != state.as_str() {
        out.push("state");
    }
    out
}

/// Copies the desktop chain to `paydesk.migrated_audit`, a page at a time, checking it again
/// as it goes (the same snapshot the survey walked).
fn copy_audit(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
    survey: &Survey,
) -> Result<usize, TeamError> {
    let read = |e: rusqlite::Error| {
        TeamError::Refused(format!(
            "the desktop journal's audit log cannot be read: {e}"
        ))
    };
    let insert = tx
        .prepare(
            "INSERT INTO paydesk.migrated_audit (source, seq, at, actor, action, detail, prev_hash, hash)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::text[])",
        )
        .map_err(db_error)?;
    let mut stmt = desktop
        .conn
        .prepare("SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id")
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut page: Vec<AuditRow> = Vec::with_capacity(AUDIT_PAGE);
    let mut prev = String::new();
    let mut copied = 0usize;
    while let Some(r) = rows.next().map_err(read)? {
        let a = AuditRow::read(r).map_err(read)?;
        if a.prev_hash != prev || a.hash != a.recomputed(&prev) {
            return Err(TeamError::Refused(format!(
                "the desktop journal's audit entry {} changed while it was copied; nothing was migrated",
                a.id
            )));
        }
        prev.clone_from(&a.hash);
        page.push(a);
        if page.len() == AUDIT_PAGE {
            copied += insert_audit_page(tx, &insert, &survey.source_id, &mut page)?;
        }
    }
    copied += insert_audit_page(tx, &insert, &survey.source_id, &mut page)?;
    if copied != survey.entries || (copied > 0 && Some(&prev) != survey.head.as_ref()) {
        return Err(TeamError::Refused(
            "the desktop journal's audit log changed while it was copied; nothing was migrated"
                .into(),
        ));
    }
    Ok(copied)
}

/// Sends a page of audit entries in one statement (columns as arrays) and empties it.
fn insert_audit_page(
    tx: &mut Transaction<'_>,
    insert: &postgres::Statement,
    source_id: &str,
    page: &mut Vec<AuditRow>,
) -> Result<usize, TeamError> {
    if page.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = page.iter().map(|a| a.id).collect();
    let ats: Vec<i64> = page.iter().map(|a| a.at).collect();
    let text = |f: fn(&AuditRow) -> &str| page.iter().map(f).collect::<Vec<&str>>();
    let (actors, actions, details) = (text(|a| &a.actor), text(|a| &a.action), text(|a| &a.detail));
    let (prevs, hashes) = (text(|a| &a.prev_hash), text(|a| &a.hash));
    tx.execute(
        insert,
        &[
            &source_id, &ids, &ats, &actors, &actions, &details, &prevs, &hashes,
        ],
    )
    .map_err(db_error)?;
    let n = page.len();
    page.clear();
    Ok(n)
}

/// The last entry a chain walk saw.
struct Last {
    at: i64,
    actor: String,
    action: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

/// Walks a chain on the server a page at a time (`sql` selects `id, at, actor, action,
/// detail, prev_hash, hash` after `$1`, of source `$2` where given), recomputing each hash.
fn verify_chain(
    c: &mut impl GenericClient,
    sql: &str,
    source: Option<&str>,
) -> Result<(AuditCheck, Option<Last>), TeamError> {
    let mut prev = String::new();
    let mut count = 0usize;
    let mut after = 0i64;
    let mut last = None;
    loop {
        let rows = match source {
            Some(s) => c.query(sql, &[&after, &s]),
            None => c.query(sql, &[&after]),
        }
        .map_err(db_error)?;
        if rows.is_empty() {
            return Ok((AuditCheck::Intact(count), last));
        }
        for r in &rows {
            let id: i64 = r.get(0);
            let a = Last {
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                detail: r.get(4),
                prev_hash: r.get(5),
                hash: r.get(6),
            };
            if a.prev_hash != prev
                || a.hash != audit_hash(&prev, a.at, &a.actor, &a.action, &a.detail)
            {
                return Ok((AuditCheck::BrokenAt(id), last));
            }
            prev.clone_from(&a.hash);
            count += 1;
            after = id;
            last = Some(a);
        }
    }
}

/// Walks this source's chain as the team journal now holds it: every entry, ending at the
/// desktop's head, and the server's own hash function agreeing on that head.
fn verify_migrated(tx: &mut Transaction<'_>, survey: &Survey) -> Result<AuditCheck, TeamError> {
    let (check, last) = verify_chain(
        tx,
        "SELECT seq, at, actor, action, detail, prev_hash, hash FROM paydesk.migrated_audit
         WHERE seq > $1 AND source = $2 ORDER BY seq LIMIT 1000",
        Some(&survey.source_id),
    )?;
    let Some(last) = last else {
        return Ok(check);
    };
    let server_hash: String = tx
        .query_one(
            "SELECT paydesk.audit_hash($1, $2, $3, $4, $5)",
            &[
                &last.prev_hash,
                &last.at,
                &last.actor,
                &last.action,
                &last.detail,
            ],
        )
        .map_err(db_error)?
        .get(0);
    if Some(&last.hash) != survey.head.as_ref() || server_hash != last.hash {
        return Err(TeamError::Corrupt(format!(
            "the copy of source {}'s audit chain does not end at the desktop's head: nothing was migrated",
            survey.source_id
        )));
    }
    Ok(check)
}

#[cfg(test)]
mod tests;
