//! `paydesk journal restore`: puts a checked copy in place of the journal without losing what
//! the replaced journal knew. A healthy journal is replaced only when asked explicitly; rows of
//! the replaced journal that the copy lacks are carried over; and the time the copy cannot
//! vouch for (from its newest row to the restore) is recorded, so that the likely-duplicate
//! check asks the gateway about payouts created then.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, MAIN_DB, OpenFlags, TransactionBehavior, params, params_from_iter};
use serde::Serialize;

use super::backup::{remove_with_sidecars, sibling};
use super::health::{
    CHECKED_BATCH_COLUMNS, CheckReport, check_file, check_header, checked_payout_columns, connect,
    lock, read_checked_batch, read_checked_payout,
};
use super::schema::migrate;
use super::{DamageWatch, Journal, JournalError};
use crate::domain::dates::{GATEWAY_TZ, format_secs, zone};

/// The gaps restores left: each a stretch of time whose payouts the journal may not hold.
pub(super) const GAPS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS restore_gaps (
    id INTEGER PRIMARY KEY,
    from_time INTEGER NOT NULL,
    to_time INTEGER NOT NULL,
    restored_from TEXT NOT NULL,
    created_at INTEGER NOT NULL
);";

/// A stretch of time a restored journal cannot vouch for: from the newest row of the copy it
/// was restored from to the restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RestoreGap {
    pub from_secs: i64,
    pub to_secs: i64,
    pub restored_from: String,
}

impl Journal {
    /// Every gap a restore left in this journal, oldest first.
    pub fn restore_gaps(&self) -> Result<Vec<RestoreGap>, JournalError> {
        // A team journal is never restored from a desktop copy: it has no gaps of that kind.
        if self.team.is_some() {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT from_time, to_time, restored_from FROM restore_gaps ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok(RestoreGap {
                from_secs: r.get(0)?,
                to_secs: r.get(1)?,
                restored_from: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Whether the journal holds a payout of `merchant` under this merchant order ID.
    pub fn knows_payout(&self, merchant: &str, cl_id: &str) -> Result<bool, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.knows_payout(merchant, cl_id)?);
        }
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM payouts WHERE merchant = ?1 AND payout_cl_id = ?2")?
            .exists(params![merchant, cl_id])?)
    }
}

/// What the operator asked of a restore.
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreOptions {
    /// Replace a journal that is healthy (otherwise refused: a copy is older than it).
    pub replace_healthy: bool,
}

/// How much a journal holds: its rows and its newest row's time.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Extent {
    pub payouts: usize,
    pub batches: usize,
    /// The newest time any row was created, sent or updated (Unix seconds).
    pub newest_at: Option<i64>,
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1")?
        .exists([table])
}

fn extent(conn: &Connection) -> rusqlite::Result<Extent> {
    let mut e = Extent::default();
    for (table, newest) in [
        (
            "payouts",
            "MAX(MAX(created_at, updated_at, COALESCE(last_sent_at, 0)))",
        ),
        ("gatepay_batches", "MAX(MAX(created_at, updated_at))"),
    ] {
        if !has_table(conn, table)? {
            continue;
        }
        let (n, at): (i64, Option<i64>) = conn.query_row(
            &format!("SELECT COUNT(*), {newest} FROM {table}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let n = usize::try_from(n).unwrap_or_default();
        if table == "payouts" {
            e.payouts = n;
        } else {
            e.batches = n;
        }
        e.newest_at = e.newest_at.max(at);
    }
    Ok(e)
}

/// The keys (merchant and merchant order ID or batch ID) of a table's rows.
fn keys(conn: &Connection, table: &str, key: &str) -> rusqlite::Result<HashSet<(String, String)>> {
    if !has_table(conn, table)? {
        return Ok(HashSet::new());
    }
    conn.prepare(&format!("SELECT merchant, {key} FROM {table}"))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

fn when(secs: Option<i64>) -> String {
    match (secs, zone(GATEWAY_TZ)) {
        (None, _) => "none (no rows)".to_owned(),
        (Some(s), Ok(tz)) => format!("{} ({GATEWAY_TZ})", format_secs(s, &tz)),
        (Some(s), Err(_)) => format!("{s} (Unix seconds)"),
    }
}

/// Why a healthy journal is not replaced: how it compares with the copy.
fn refuse_healthy(journal: &Path, current: &Connection, copy: &Connection) -> JournalError {
    let compare = || -> rusqlite::Result<String> {
        let (now, then) = (extent(current)?, extent(copy)?);
        let lacks = |table: &str, key: &str| -> rusqlite::Result<usize> {
            let theirs = keys(copy, table, key)?;
            Ok(keys(current, table, key)?.difference(&theirs).count())
        };
        Ok(format!(
            "its newest row is from {} ({} payout(s), {} batch(es)); the copy's newest row is from \
             {} ({} payout(s), {} batch(es)); {} payout(s) and {} batch(es) of the journal are not in the copy",
            when(now.newest_at),
            now.payouts,
            now.batches,
            when(then.newest_at),
            then.payouts,
            then.batches,
            lacks("payouts", "payout_cl_id")?,
            lacks("gatepay_batches", "batch_id")?,
        ))
    };
    let comparison = compare().unwrap_or_else(|e| format!("they could not be compared: {e}"));
    JournalError::Backup(format!(
        "the journal {} is healthy, so it was not replaced: {comparison}. A copy put in its place \
         would forget what was paid since; replace it only if you must, and ask for it explicitly \
         (`--replace-healthy`): its rows the copy lacks are then carried over",
        journal.display()
    ))
}

/// What carrying rows over did.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Carried {
    pub payouts: usize,
    pub batches: usize,
    /// Rows of the replaced journal that could not be read (or did not check): not carried.
    pub unreadable: usize,
}

fn columns(conn: &Connection, schema: &str, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare(&format!("PRAGMA {schema}.table_info({table})"))?
        .query_map([], |r| r.get::<_, String>(1))?
        .collect()
}

/// Copies the rows of `table` in `old` whose key `new` lacks, keeping every column both
/// journals have (account, amount, times, state…), then reads each carried row back as the
/// program will: one that does not read or check is removed again and counted unreadable.
/// Returns (carried, unreadable).
fn carry_table(
    old: &Connection,
    new: &Connection,
    table: &str,
) -> Result<(usize, usize), JournalError> {
    if !has_table(old, table)? {
        return Ok((0, 0));
    }
    let theirs = columns(old, "main", table)?;
    let common: Vec<String> = columns(new, "main", table)?
        .into_iter()
        .filter(|c| c != "id" && theirs.contains(c))
        .collect();
    let list = common.join(", ");
    let marks: Vec<String> = (1..=common.len()).map(|i| format!("?{i}")).collect();
    let mut insert = new.prepare(&format!(
        "INSERT INTO {table} ({list}) VALUES ({}) ON CONFLICT DO NOTHING",
        marks.join(", ")
    ))?;
    let mut unreadable = 0;
    let mut added = Vec::new();
    // A damaged journal may stop reading part way: what was read before that is kept.
    let Ok(mut read) = old.prepare(&format!("SELECT {list} FROM {table} ORDER BY id")) else {
        return Ok((0, 1));
    };
    let Ok(mut rows) = read.query([]) else {
        return Ok((0, 1));
    };
    loop {
        match rows.next() {
            Ok(Some(r)) => {
                let values: Result<Vec<Value>, _> =
                    (0..common.len()).map(|i| r.get::<_, Value>(i)).collect();
                match values.map(|v| insert.execute(params_from_iter(v))) {
                    Ok(Ok(1)) => added.push(new.last_insert_rowid()),
                    // The copy has it: the copy's row stands.
                    Ok(Ok(_)) => {}
                    _ => unreadable += 1,
                }
            }
            Ok(None) => break,
            Err(_) => {
                unreadable += 1;
                break;
            }
        }
    }
    let select = if table == "payouts" {
        checked_payout_columns()
    } else {
        CHECKED_BATCH_COLUMNS.to_owned()
    };
    let mut check = new.prepare(&format!("SELECT {select} FROM {table} WHERE id = ?1"))?;
    let mut carried = 0;
    for id in added {
        let good = check
            .query_row([id], |r| {
                Ok(if table == "payouts" {
                    read_checked_payout(r).is_ok()
                } else {
                    read_checked_batch(r).is_ok()
                })
            })
            .unwrap_or(false);
        if good {
            carried += 1;
        } else {
            new.execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?;
            unreadable += 1;
        }
    }
    Ok((carried, unreadable))
}

/// Carries into `new` the rows of the journal at `old` that it lacks, as far as they read.
fn carry(old: &Path, new: &Connection) -> Result<Carried, JournalError> {
    if check_header(old).is_err() {
        return Ok(Carried::default());
    }
    let Ok(old) = Connection::open_with_flags(
        old,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return Ok(Carried::default());
    };
    let (payouts, bad_payouts) = carry_table(&old, new, "payouts")?;
    let (batches, bad_batches) = carry_table(&old, new, "gatepay_batches")?;
    // What was sent and checked stays readable for the payouts it belongs to.
    let bad_attempts = if has_table(&old, "attempts")? {
        super::attempts::carry(&old, new)
    } else {
        0
    };
    // Gaps an earlier restore left stay unvouched for.
    if has_table(&old, "restore_gaps")? {
        let gaps: Vec<(i64, i64, String, i64)> = old
            .prepare("SELECT from_time, to_time, restored_from, created_at FROM restore_gaps")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .unwrap_or_default();
        for (from, to, source, at) in gaps {
            new.execute(
                "INSERT INTO restore_gaps (from_time, to_time, restored_from, created_at)
                    SELECT ?1, ?2, ?3, ?4 WHERE NOT EXISTS (SELECT 1 FROM restore_gaps
                        WHERE from_time = ?1 AND to_time = ?2 AND restored_from = ?3)",
                params![from, to, source, at],
            )?;
        }
    }
    Ok(Carried {
        payouts,
        batches,
        unreadable: bad_payouts + bad_batches + bad_attempts,
    })
}

/// What `paydesk journal restore` did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    pub restored_from: PathBuf,
    /// Where the journal that was replaced now is.
    pub kept_aside: Option<PathBuf>,
    /// Whether the journal that was replaced was healthy (none when there was none).
    pub replaced_was_healthy: Option<bool>,
    /// Rows of the replaced journal the copy lacked, now in the restored journal.
    pub carried: Carried,
    /// Rows that were not known to be settled: now unknown, each looked up at the gateway
    /// before anything is sent again.
    pub to_look_up: usize,
    /// The time the restored journal cannot vouch for, when some may be missing from it:
    /// payouts the gateway created then are checked before a new payout is sent.
    pub gap: Option<RestoreGap>,
    pub check: CheckReport,
}

/// Why a restored row is unknown.
const RESTORED_WHY: &str =
    "the journal was restored from a copy: looked up at the gateway before anything is sent again";

/// What the staged journal became.
struct Staged {
    carried: Carried,
    to_look_up: usize,
    gap: Option<RestoreGap>,
}

/// Builds the restored journal at `staging`: the copy, the rows of the replaced journal it
/// lacks, every row not known settled made unknown, and the gap recorded.
fn stage(
    journal: &Path,
    from: &Path,
    staging: &Path,
    replaced_healthy: bool,
    actor: &str,
) -> Result<Staged, JournalError> {
    let src = connect(from)?;
    src.backup(MAIN_DB, staging, None::<fn(rusqlite::backup::Progress)>)?;
    drop(src);
    let mut conn = connect(staging)?;
    migrate(&mut conn)?;
    let copy_newest = extent(&conn)?.newest_at;
    let now = jiff::Timestamp::now().as_second();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let carried = if journal.exists() {
        carry(journal, &tx)?
    } else {
        Carried::default()
    };
    let mut to_look_up = 0;
    for table in ["payouts", "gatepay_batches"] {
        to_look_up += tx.execute(
            &format!(
                "UPDATE {table} SET state = 'unknown', unknown_why = ?1, next_check_at = NULL, claimed_by = NULL,
                    updated_at = ?2 WHERE state IN ('queued', 'sending', 'not-created')"
            ),
            params![RESTORED_WHY, now],
        )?;
    }
    // A healthy journal carried over whole leaves nothing unvouched for.
    let gap = (!(replaced_healthy && carried.unreadable == 0)).then(|| RestoreGap {
        from_secs: copy_newest.unwrap_or(0),
        to_secs: now,
        restored_from: from.display().to_string(),
    });
    if let Some(g) = &gap {
        tx.execute(
            "INSERT INTO restore_gaps (from_time, to_time, restored_from, created_at) VALUES (?1, ?2, ?3, ?2)",
            params![g.from_secs, g.to_secs, g.restored_from],
        )?;
    }
    tx.commit()?;
    let mut j = Journal {
        conn,
        path: staging.to_path_buf(),
        damaged: DamageWatch::default(),
        _lock: None,
        team: None,
    };
    j.audit(
        actor,
        "journal restored",
        &format!(
            "from {}; {} payout(s) and {} batch(es) carried from the replaced journal, {} unreadable; \
             {to_look_up} row(s) to look up",
            from.display(),
            carried.payouts,
            carried.batches,
            carried.unreadable
        ),
        now,
    )?;
    Ok(Staged {
        carried,
        to_look_up,
        gap,
    })
}

/// Replaces the journal at `journal` by a checked copy of `from`. A healthy journal is
/// refused unless `options.replace_healthy`, with how it compares with the copy. Rows of the
/// replaced journal that the copy lacks are carried over, and every row not known settled
/// becomes unknown, so that nothing paid disappears and nothing is sent again blind. The
/// replaced file is kept aside as `journal.sqlite3.replaced-<time>` (healthy) or
/// `journal.sqlite3.damaged-<time>`.
pub fn restore(
    journal: &Path,
    from: &Path,
    actor: &str,
    options: RestoreOptions,
) -> Result<RestoreReport, JournalError> {
    let source = check_file(from);
    if !source.healthy {
        return Err(JournalError::Backup(format!(
            "{} is not a healthy journal ({}); nothing was restored",
            from.display(),
            source.problems.join("; ")
        )));
    }
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| JournalError::Backup(format!("{}: {e}", dir.display())))?;
    }
    let _held = lock(journal, true)?;
    let replaced_was_healthy = journal.exists().then(|| check_file(journal).healthy);
    if replaced_was_healthy == Some(true) && !options.replace_healthy {
        return Err(refuse_healthy(journal, &connect(journal)?, &connect(from)?));
    }
    let staging = sibling(journal, &format!(".restoring-{}", std::process::id()));
    remove_with_sidecars(&staging);
    let staged = match stage(
        journal,
        from,
        &staging,
        replaced_was_healthy == Some(true),
        actor,
    ) {
        Ok(s) => s,
        Err(e) => {
            remove_with_sidecars(&staging);
            return Err(e);
        }
    };
    let check = check_file(&staging);
    if !check.healthy {
        remove_with_sidecars(&staging);
        return Err(JournalError::Backup(format!(
            "the restored copy did not check ({}); nothing was restored",
            check.problems.join("; ")
        )));
    }
    let kept_aside = match replaced_was_healthy {
        Some(healthy) => {
            let kind = if healthy { "replaced" } else { "damaged" };
            let time = jiff::Zoned::now().strftime("%Y%m%dT%H%M%S").to_string();
            let mut aside = sibling(journal, &format!(".{kind}-{time}"));
            if aside.exists() {
                // Never over an earlier file kept aside.
                aside = sibling(journal, &format!(".{kind}-{time}-{}", std::process::id()));
            }
            std::fs::rename(journal, &aside)
                .map_err(|e| JournalError::Backup(format!("{}: {e}", journal.display())))?;
            // The write-ahead log belongs to the file set aside.
            let _ = std::fs::rename(sibling(journal, "-wal"), sibling(&aside, "-wal"));
            let _ = std::fs::remove_file(sibling(journal, "-shm"));
            Some(aside)
        }
        None => None,
    };
    std::fs::rename(&staging, journal)
        .map_err(|e| JournalError::Backup(format!("{}: {e}", journal.display())))?;
    remove_with_sidecars(&staging);
    Ok(RestoreReport {
        restored_from: from.to_path_buf(),
        kept_aside,
        replaced_was_healthy,
        carried: staged.carried,
        to_look_up: staged.to_look_up,
        gap: staged.gap,
        check: CheckReport {
            path: journal.to_path_buf(),
            ..check
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::journal::{Intent, State, journal_path};
    use crate::gateway::cny::wire::PayoutRequest;
    use crate::money::Fen;

    fn intent(cl_id: &str) -> Intent {
        Intent {
            merchant: "PF0060@gw".into(),
            origin: None,
            request: PayoutRequest {
                payout_cl_id: cl_id.into(),
                amount: Fen::from_fen(12_345),
                bank_name: "中国工商银行".into(),
                name: "张伟".into(),
                number: "6222020212345678".into(),
                bank_branch: None,
                province: None,
                city: None,
                notify_url: None,
            },
            state: State::Queued,
            import: None,
        }
    }

    #[test]
    fn a_healthy_replaced_journal_keeps_its_rows_and_its_earlier_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path());
        let copy = dir.path().join("copy.sqlite3");
        {
            let mut j = Journal::open(&path).unwrap();
            j.record_intents(&[intent("A1")], 1_000).unwrap();
            j.backup_to(&copy).unwrap();
            j.record_intents(&[intent("B1")], 2_000).unwrap();
            j.conn
                .execute(
                    "INSERT INTO restore_gaps (from_time, to_time, restored_from, created_at)
                        VALUES (10, 20, 'older.sqlite3', 20)",
                    [],
                )
                .unwrap();
        }
        let refused = restore(&path, &copy, "t", RestoreOptions::default()).unwrap_err();
        assert!(refused.to_string().contains("is healthy"), "{refused}");
        let done = restore(
            &path,
            &copy,
            "t",
            RestoreOptions {
                replace_healthy: true,
            },
        )
        .unwrap();
        assert_eq!(done.carried.payouts, 1);
        assert!(done.gap.is_none(), "carried over whole: nothing unvouched");
        let j = Journal::open(&path).unwrap();
        let b1 = j.get("PF0060@gw", "B1").unwrap().unwrap();
        assert_eq!((b1.state, b1.created_at), (State::Unknown, 2_000));
        assert_eq!(
            j.restore_gaps().unwrap(),
            vec![RestoreGap {
                from_secs: 10,
                to_secs: 20,
                restored_from: "older.sqlite3".into()
            }]
        );
    }

    #[test]
    fn a_restore_keeps_the_attempts_the_copy_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path());
        let copy = dir.path().join("copy.sqlite3");
        let note = |outcome: &str| crate::domain::journal::CheckNote {
            outcome: outcome.into(),
            summary: "no such order yet".into(),
            ..Default::default()
        };
        {
            let mut j = Journal::open(&path).unwrap();
            j.record_intents(&[intent("A1")], 1_000).unwrap();
            j.record_check("PF0060@gw", "A1", &note("not found yet"), 1_100)
                .unwrap();
            j.backup_to(&copy).unwrap();
            j.record_check("PF0060@gw", "A1", &note("check failed"), 1_200)
                .unwrap();
            j.record_intents(&[intent("B1")], 2_000).unwrap();
            j.record_check("PF0060@gw", "B1", &note("not found yet"), 2_100)
                .unwrap();
        }
        restore(
            &path,
            &copy,
            "t",
            RestoreOptions {
                replace_healthy: true,
            },
        )
        .unwrap();
        let j = Journal::open(&path).unwrap();
        let outcomes = |cl_id: &str| -> Vec<(i64, Option<String>)> {
            (j.attempts("PF0060@gw", cl_id).unwrap().into_iter())
                .map(|a| (a.number, a.outcome))
                .collect()
        };
        assert_eq!(
            outcomes("A1"),
            [
                (1, Some("not found yet".to_owned())),
                (2, Some("check failed".to_owned()))
            ]
        );
        assert_eq!(outcomes("B1"), [(1, Some("not found yet".to_owned()))]);
    }
}
