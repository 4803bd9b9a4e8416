//! The payout journal: SQLite on disk (WAL, synchronous=FULL), so that the intent of every
//! payout is durable before a byte goes to the gateway, and its outcome after. A payout whose
//! outcome is unknown stays unknown until a query by its merchant order ID settles it; it is
//! never shown as failed and never sent again under a new ID. The same database holds an
//! audit log whose entries are chained by hash, so that an edited or deleted entry shows.

use std::path::{Path, PathBuf};

mod attempts;
mod audit;
mod backup;
mod claims;
pub(crate) use claims::{mismatch, pid_alive};
mod health;
mod identity;
mod notifications;
mod origin;
mod outcome;
mod payouts;
mod restore;
mod schema;
pub mod team;
mod wal;

pub use attempts::{Attempt, CHECK, CheckNote, MAX_ATTEMPTS_KEPT, SEND};
pub(crate) use attempts::{Reply, check_words};
pub(crate) use audit::audit_hash;
pub use audit::{AuditCheck, AuditRecord};
pub use identity::{ID_RENEWED, journal_id};
pub use notifications::{Received, StoredNotification, content_key};
pub use origin::{LOOPBACK, gateway_origin, other_origin_message, same_origin};
pub use outcome::{Outcome, OutcomeFilter};
pub use payouts::{Found, Intent, ListFilter, Recheck};
pub use restore::{Carried, Extent, RestoreGap, RestoreOptions, RestoreReport, restore};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

pub use claims::{Claim, STALE_CLAIM_SECS, SentElsewhere, claimer_id};
pub(crate) use claims::{claim_is_live, stopped_why};
pub use health::{CheckReport, DEFAULT_BACKUP_DAYS, backups_dir, check_file, read_what_reads};

use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::gateway::cny::wire::PayoutRequest;
use crate::money::Fen;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("the payout journal at {path} cannot be used: {message}")]
    Open { path: PathBuf, message: String },
    #[error("the payout journal failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("merchant order ID {0} is already in the journal: a payout is never sent twice")]
    DuplicateId(String),
    #[error("no payout with merchant order ID {0} is in the journal")]
    NotFound(String),
    #[error("the journal holds a payout it cannot read: {0}")]
    Corrupt(String),
    /// The file is there but cannot be trusted: nothing may be sent with it.
    #[error("the payout journal {path} is damaged: {why}; nothing can be sent with it. {way_out}")]
    Damaged {
        path: PathBuf,
        why: String,
        way_out: String,
    },
    #[error(
        "the payout journal {path} was written by a newer Paydesk (schema version {found}; this one knows up to {supported}): use that newer Paydesk; nothing can be sent with this one"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "the journal's record of {cl_id} does not match the payout about to be sent ({what}); nothing was sent"
    )]
    Mismatch { cl_id: String, what: String },
    #[error("{0}")]
    Backup(String),
    #[error(transparent)]
    Team(#[from] team::TeamError),
    /// What only a desktop journal keeps, asked of a team journal.
    #[error(
        "{0} are not kept in the team journal yet: use them with a profile that has no team journal"
    )]
    NotInTeam(&'static str),
}

/// Where a payout stands, as far as this machine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Recorded and waiting to be sent (a bulk import).
    Queued,
    /// Being sent: if the program stops here, the outcome is unknown.
    Sending,
    /// The gateway took it (it has a payout ID); its status is tracked until final.
    Accepted,
    /// The gateway refused it with a code: nothing was created.
    Rejected,
    /// No answer that says what happened: to be settled by a query.
    Unknown,
    /// A query found no such order after the grace period: it was never created and may be
    /// sent again under the same merchant order ID.
    NotCreated,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Queued,
        State::Sending,
        State::Accepted,
        State::Rejected,
        State::Unknown,
        State::NotCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Accepted => "accepted",
            State::Rejected => "rejected",
            State::Unknown => "unknown",
            State::NotCreated => "not-created",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What an operator reads: never "failed" for an unknown outcome.
    pub fn describe(self) -> &'static str {
        match self {
            State::Queued => "queued, not sent yet",
            State::Sending => "being sent",
            State::Accepted => "accepted by the gateway",
            State::Rejected => "refused by the gateway: nothing was created",
            State::Unknown => "outcome unknown: being checked with the gateway",
            State::NotCreated => "not created at the gateway: can be sent again with the same ID",
        }
    }
}

/// One payout in the journal.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    /// The merchant this payout belongs to: its `platform_id`.
    pub merchant: String,
    pub payout_cl_id: String,
    pub amount: Fen,
    pub bank_name: String,
    pub recipient_name: String,
    pub account_masked: String,
    pub state: State,
    pub payout_id: Option<String>,
    pub reject_code: Option<String>,
    pub reject_meaning: Option<String>,
    pub reject_message: Option<String>,
    pub unknown_why: Option<String>,
    pub gateway_status: Option<i64>,
    pub gateway_status_label: Option<String>,
    pub is_final: bool,
    pub final_at: Option<i64>,
    pub attempts: i64,
    pub checks: i64,
    pub next_check_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub body_sha256: Option<String>,
    /// The file import this payout came from, and its row there (columns `batch_id`,
    /// `batch_row`: the journal's names predate the word "import").
    #[serde(rename = "batch_id")]
    pub import_id: Option<String>,
    #[serde(rename = "batch_row")]
    pub import_row: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the gateway's last answer about this payout failed its signature check: what
    /// the row says is then the last *trusted* word (or still unknown), never that answer.
    pub unverified_at: Option<i64>,
    /// The gateway origin it was sent to (`scheme://host:port`, loopback as one host);
    /// `None` for a payout from before origins were kept.
    pub origin: Option<String>,
    /// Who recorded, approved and sent it, where the journal is a team's (`None` on a desktop).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<team::TeamInfo>,
    #[serde(skip)]
    pub request: PayoutRequest,
}

/// What an operator reads beside a payout whose last gateway answer was not trusted.
pub const UNVERIFIED_MEANING: &str = "the gateway's reply failed its signature check";

impl Entry {
    /// Whether the gateway's last answer about this payout failed its signature check.
    pub fn unverified(&self) -> bool {
        self.unverified_at.is_some()
    }

    /// Where it stands, in words: its state, or on a team journal what holds it back.
    pub fn describe(&self) -> String {
        match &self.team {
            Some(t) if self.state == State::Queued && !t.approval.sendable() => t.describe(),
            _ => self.state.describe().to_owned(),
        }
    }

    /// Whether a second operator's approval holds it back (pending or rejected).
    pub fn held_for_approval(&self) -> bool {
        self.team
            .as_ref()
            .is_some_and(|t| self.state == State::Queued && !t.approval.sendable())
    }
}

/// Who did something, for the audit log: one definition for the CLI and the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    /// The operator logged in on this machine (`USER`, `USERNAME`, else "operator").
    pub fn current() -> Actor {
        Actor(
            std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .ok()
                .filter(|u| !u.trim().is_empty())
                .unwrap_or_else(|| "operator".to_owned()),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Writes the audit record of a send in this actor's name. The send's outcome stands
    /// whatever happens here: a failure joins its `bookkeeping` error rather than replace it.
    pub fn audit_send(
        &self,
        journal: &std::sync::Mutex<Journal>,
        action: &str,
        detail: &str,
        now: i64,
        bookkeeping: &mut Option<String>,
    ) {
        if let Err(err) = crate::lock_unpoisoned(journal).audit(self.as_str(), action, detail, now)
        {
            let text = format!("the audit log could not record it: {err}");
            *bookkeeping = Some(match bookkeeping.take() {
                Some(earlier) => format!("{earlier}; {text}"),
                None => text,
            });
        }
    }
}

/// The account number shown to people: `6216 **** 4374`.
pub fn mask_account(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 8 {
        return "*".repeat(digits.len());
    }
    format!("{} **** {}", &digits[..4], &digits[digits.len() - 4..])
}

/// A stable fingerprint of an account number, to spot likely duplicates.
pub(crate) fn account_fingerprint(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    hex::encode(Sha256::digest(digits.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Set once when an open journal turns out to be damaged; shared so that a console can
/// block sending without waiting for the journal's lock.
#[derive(Clone, Debug, Default)]
pub struct DamageWatch(std::sync::Arc<std::sync::OnceLock<String>>);

impl DamageWatch {
    pub fn why(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    fn set(&self, why: String) {
        let _ = self.0.set(why);
    }
}

/// Held while a likely-duplicate check and the record it allowed are made; released when
/// dropped.
#[derive(Debug)]
pub struct RecordingLock {
    _file: Option<std::fs::File>,
    _team: Option<team::TeamLock>,
}

/// What a [`RecordingLock`] locks: the file beside a desktop journal, or the team's server
/// (an advisory lock every operator's Paydesk takes), read off the journal while its mutex is
/// held and taken after it is released.
#[derive(Clone, Debug)]
pub enum RecordingTarget {
    File(PathBuf),
    Team(team::TeamUrl, Option<crate::secret::Secret>),
}

impl RecordingTarget {
    pub fn lock(&self) -> Result<RecordingLock, JournalError> {
        match self {
            RecordingTarget::File(path) => recording_lock(path),
            RecordingTarget::Team(url, password) => Ok(RecordingLock {
                _file: None,
                _team: Some(team::TeamLock::take(url, password.as_ref())?),
            }),
        }
    }
}

/// An exclusive lock beside the journal (`journal.sqlite3.record-lock`), taken around "no
/// likely duplicate in the journal" and the record that relies on it, so that two Paydesks
/// (two commands, or the console and a command) cannot both find nothing and both record the
/// same payment. It waits for the other holder, which holds it only while it checks and
/// records, never while it sends. Where the file system has no locks, nothing is held.
pub fn recording_lock(journal: &Path) -> Result<RecordingLock, JournalError> {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".record-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(journal.with_file_name(name))
        .map_err(|e| JournalError::Open {
            path: journal.to_path_buf(),
            message: format!("the recording lock cannot be opened: {e}"),
        })?;
    Ok(RecordingLock {
        _file: file.lock().is_ok().then_some(file),
        _team: None,
    })
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// Why this journal stopped being trusted during this session (a row that no longer
    /// reads, SQLite reporting corruption): every claim is refused from then on.
    damaged: DamageWatch,
    /// A shared lock held while the journal is open, so that a restore can tell it is in use.
    _lock: Option<std::fs::File>,
    /// The team journal this one is, when a profile names one: every payout rule is then
    /// the server's, and `conn` is an empty in-memory database that answers nothing, so that
    /// nothing ever lands in a local journal by mistake.
    pub(crate) team: Option<Box<team::TeamJournal>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The journal's file in a data directory.
pub fn journal_path(data_dir: &Path) -> PathBuf {
    data_dir.join("journal.sqlite3")
}

impl Journal {
    /// Opens the journal and proves it: a new one is created only where no file exists; an
    /// empty, unreadable, foreign, newer or damaged file is refused, never replaced.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        health::open(path)
    }

    /// Why this journal can no longer be trusted, if it became damaged while open.
    pub fn damaged(&self) -> Option<&str> {
        self.damaged.why()
    }

    /// A handle that tells, without locking the journal, whether it became damaged.
    pub fn damage_watch(&self) -> DamageWatch {
        self.damaged.clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the other journaled services of this crate (GatePay batches):
    /// refused on a team journal, which does not keep `what`.
    pub(crate) fn conn(&mut self, what: &'static str) -> Result<&mut Connection, JournalError> {
        if self.team.is_some() {
            return Err(JournalError::NotInTeam(what));
        }
        Ok(&mut self.conn)
    }

    /// Refuses, on a team journal, what only a desktop journal keeps.
    pub(crate) fn local_only(&self, what: &'static str) -> Result<(), JournalError> {
        match self.team {
            Some(_) => Err(JournalError::NotInTeam(what)),
            None => Ok(()),
        }
    }

    /// What to lock around a likely-duplicate check and the record it allows.
    pub fn recording_target(&self) -> RecordingTarget {
        match self.team.as_deref() {
            Some(t) => RecordingTarget::Team(t.url().clone(), t.password().cloned()),
            None => RecordingTarget::File(self.path.clone()),
        }
    }

    /// The team journal behind this one, if it is a team's.
    pub fn team(&self) -> Option<&team::TeamJournal> {
        self.team.as_deref()
    }

    /// Opens a team journal (see [`team`]): the same interface as a desktop journal, every
    /// payout kept on the team's PostgreSQL server. Nothing falls back to a local file.
    pub fn open_team(
        url: &team::TeamUrl,
        password: Option<&crate::secret::Secret>,
    ) -> Result<Journal, JournalError> {
        let journal = team::TeamJournal::open(url, password)?;
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(Journal {
            conn,
            path: PathBuf::from(format!("team journal {}", url.target())),
            damaged: DamageWatch::default(),
            _lock: None,
            team: Some(Box::new(journal)),
        })
    }
}
