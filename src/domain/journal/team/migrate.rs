//! Carrying a desktop journal (SQLite) over to the team journal (`paydesk journal migrate`):
//! its CNY payouts with each one's sends and checks, its GatePay batches and its audit chain,
//! checked before and after, in one PostgreSQL transaction, so that a team either has all of
//! a desktop's journal or none of it.
//!
//! The desktop journal is only read (opened read-only, under the exclusive lock a restore
//! takes, so no Paydesk sends from it meanwhile) and stays as it was. A payout or batch the
//! team journal already holds under the same ID with a different content is a clash: nothing
//! is migrated. The same one already there is skipped, so a second run changes nothing. One
//! that was being sent becomes unknown: it is looked up at the gateway before anything else.
//!
//! A desktop journal is named by its *source ID*, the journal's own ID (`journal::journal_id`):
//! given once, it does not change as the journal grows or is copied, renamed or restored
//! from a backup, and each differs between two desktops' journals.

use std::path::{Path, PathBuf};

use postgres::{Client, Transaction};
use serde::{Serialize, Serializer};

use super::TeamError;
use super::connect::off_runtime;
use super::schema;
use super::store::db_error;
use crate::domain::journal::AuditCheck;

mod attempts;
mod batches;
mod copy;
mod desktop;

use attempts::AttemptCopier;
use batches::copy_batches;
use copy::{copy_audit, copy_payouts, shared_head, verify_chain, verify_migrated};
use desktop::Desktop;

/// Why a payout that was being sent when the desktop journal was migrated is unknown.
pub const MIGRATED_MID_SEND: &str = "the desktop journal was migrated while this payout was being sent: \
     it is looked up at the gateway before anything else";

/// Why a GatePay batch that was being sent when the desktop journal was migrated is unknown.
pub const MIGRATED_BATCH_MID_SEND: &str = "the desktop journal was migrated while this batch was being sent: \
     it is looked up at GatePay before anything else";

/// The team-chain action that records a migration.
pub const MIGRATED_ACTION: &str = "journal migrated";

/// The oldest desktop schema read as it is: from version 8 a journal has its own ID (and
/// from version 3 a merchant is its `platform_id`, every payout column the team journal
/// keeps existing).
const OLDEST_SOURCE_SCHEMA: i64 = 8;
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

/// What stays in the desktop journal: the team journal has no place for it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeftBehind {
    /// Notifications received (each desktop keeps those its own listener took).
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
    /// Sends and checks of the payouts copied.
    pub attempts_copied: usize,
    /// Sends and checks in the desktop journal (of every payout, copied or already there).
    pub source_attempts: usize,
    /// GatePay batches in the desktop journal.
    pub source_batches: usize,
    /// Batches recorded in the team journal.
    pub batches_copied: usize,
    /// Batches the team journal already held as they are: skipped.
    pub batches_already_there: usize,
    /// Of the batches copied: being sent in the desktop journal, now unknown.
    pub batches_made_unknown: usize,
    /// Of the batches copied: queued and held by the team's batch approval rule.
    pub batches_awaiting_approval: usize,
    /// Audit entries of the desktop journal copied to `paydesk.migrated_audit`.
    pub audit_entries_copied: usize,
    /// Its first audit entries, shared with a journal migrated before (it is a copy of it):
    /// in the team journal already, not copied again.
    pub audit_entries_shared: usize,
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
        Some(Some(head)) if !desktop.has_audit_entry(head)? => {
            return Err(refuse(
                source,
                format!(
                    "it carries the journal ID {} of a journal migrated before, but its audit chain does not \
                     continue from what was migrated (head {head}): it is a copy of that journal, used apart \
                     since (a second desktop set up from a copy). Give it an ID of its own with `paydesk \
                     journal new-id --file {}` (close every Paydesk using it first), then migrate it: what it \
                     shares with the journal migrated before is skipped, or named if it differs",
                    survey.source_id,
                    source.display()
                ),
            ));
        }
        Some(head) => {
            return Err(refuse(
                source,
                format!(
                    "it was migrated before (source {}) up to audit head {}, and its chain has changed since \
                     (now {} entries, head {}): it was used after the migration; compare it with the team journal \
                     before anything else. If it is a copy of that journal set up as a second desktop, give it \
                     an ID of its own with `paydesk journal new-id --file {}`, then migrate it",
                    survey.source_id,
                    head.as_deref().unwrap_or("none"),
                    survey.entries,
                    survey.head.as_deref().unwrap_or("none"),
                    source.display(),
                ),
            ));
        }
    };
    // History this journal shares with one migrated before (it is a copy of it, or that
    // journal given an ID of its own) is in the team journal already: copied once only.
    let shared = if same_source {
        None
    } else {
        shared_head(&desktop, &mut tx)?
    };
    let skipped = shared.as_ref().map_or(0, |(_, n)| *n);

    let mut attempts = AttemptCopier::new(&desktop.conn, &survey.source_id)
        .map_err(|e| refuse(source, format!("its attempts cannot be read: {e}")))?;
    let copied = copy_payouts(
        &desktop,
        &mut tx,
        source,
        &mut attempts,
        same_source,
        opts.now,
    )?;
    let batches = copy_batches(&desktop, &mut tx, source, same_source, opts.now)?;
    let audit_copied = if same_source {
        0
    } else {
        copy_audit(&desktop, &mut tx, &survey, shared.as_ref())?
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
        attempts_copied: attempts.copied,
        source_attempts: survey.attempts,
        source_batches: survey.batches,
        batches_copied: batches.copied,
        batches_already_there: batches.already_there,
        batches_made_unknown: batches.made_unknown,
        batches_awaiting_approval: batches.awaiting_approval,
        audit_entries_copied: audit_copied,
        audit_entries_shared: skipped,
        source_head: survey.head.clone(),
        left_in_desktop: survey.left.clone(),
        source_chain: survey.chain,
        migrated_chain: AuditCheck::Intact(0),
        team_chain: AuditCheck::Intact(0),
    };
    let nothing_new = copied.copied == 0 && batches.copied == 0 && audit_copied == 0;
    if !nothing_new {
        let detail = migration_detail(&report);
        tx.execute(
            "SELECT paydesk.audit_append($1, $2, NULL)",
            &[&MIGRATED_ACTION, &detail],
        )
        .map_err(db_error)?;
    }

    report.migrated_chain = verify_migrated(&mut tx, &survey, shared.as_ref())?;
    if report.migrated_chain != AuditCheck::Intact(survey.entries - skipped) {
        return Err(TeamError::Corrupt(format!(
            "the copy of source {}'s audit chain does not check ({:?}, {} entries expected): nothing was migrated",
            survey.source_id,
            report.migrated_chain,
            survey.entries - skipped
        )));
    }
    report.team_chain = verify_chain(
        &mut tx,
        "SELECT id, at, actor, action, detail, prev_hash, hash FROM paydesk.audit
         WHERE id > $1 ORDER BY id LIMIT 1000",
        None,
        "",
    )?
    .0;
    if let AuditCheck::BrokenAt(id) = report.team_chain {
        return Err(TeamError::Corrupt(format!(
            "the team journal's audit chain is broken at entry {id}: nothing was migrated"
        )));
    }

    report.outcome = if nothing_new {
        if survey.payouts == 0 && survey.batches == 0 && survey.entries == 0 {
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
        "source {}: file {file}; {} payout(s) copied ({} being sent made unknown, {} attempt(s)), {} already in \
         the team journal; {} GatePay batch(es) copied ({} being sent made unknown), {} already in the team \
         journal; {} audit entries copied, head {}; left in the desktop journal: {} notification(s), {} restore \
         gap(s)",
        r.source_id,
        r.payouts_copied,
        r.sending_made_unknown,
        r.attempts_copied,
        r.payouts_already_there,
        r.batches_copied,
        r.batches_made_unknown,
        r.batches_already_there,
        r.audit_entries_copied,
        r.source_head.as_deref().unwrap_or("none"),
        l.notifications,
        l.restore_gaps,
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

#[cfg(test)]
mod tests;
