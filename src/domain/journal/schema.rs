//! The journal's schema version and its one list of migrations; each table's SQL lives beside
//! that table's queries (`payouts`, `audit`, and `domain::batches::store` for `gatepay_batches`).

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::{attempts, audit, identity, notifications, origin, payouts, restore};
use crate::domain::batches::store as gatepay_batches;

/// One piece of a migration step: SQL, or a fill that needs Rust (address parsing).
#[derive(Clone, Copy)]
enum Piece {
    Sql(&'static str),
    Run(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}
use Piece::{Run, Sql};

/// The schema, one step per version: step `i` takes a journal from version `i` to `i + 1`,
/// running its pieces in order. Version 0 is a journal from before versions were kept (its
/// tables are those of step 0).
const MIGRATIONS: [&[Piece]; 8] = [
    &[
        Sql(payouts::SCHEMA),
        Sql(gatepay_batches::SCHEMA),
        Sql(audit::SCHEMA),
    ],
    // Claims: one sender per row.
    &[
        Sql(payouts::CLAIM_COLUMNS),
        Sql(gatepay_batches::CLAIM_COLUMNS),
    ],
    // Replies that failed their signature check; the likely-duplicate lookup's index.
    &[Sql(payouts::UNVERIFIED_AND_DUPLICATES)],
    // A merchant is its gateway identity, not the address it was reached at; the address
    // becomes the row's gateway origin, where alone it is looked up and sent again.
    &[
        Run(|tx| origin::add_column(tx, "payouts")),
        Run(|tx| origin::add_column(tx, "gatepay_batches")),
        Run(|tx| origin::fill_legacy_origins(tx, "payouts")),
        Run(|tx| origin::fill_legacy_origins(tx, "gatepay_batches")),
        Sql(payouts::MERCHANT_IDENTITY),
        Sql(gatepay_batches::MERCHANT_IDENTITY),
    ],
    // The time a restore from an older copy cannot vouch for.
    &[Sql(restore::GAPS_SCHEMA)],
    // Notifications received, each content once.
    &[Sql(notifications::SCHEMA)],
    // Every send and check of a payout; those sent before get one attempt rebuilt.
    &[Sql(attempts::SCHEMA), Sql(attempts::RECONSTRUCT)],
    // The journal's own ID, kept for ever (what `journal migrate` knows it by).
    &[Sql(identity::SCHEMA), Run(identity::assign)],
];

/// The schema version this Paydesk writes; a journal with a higher one is refused.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// SQLite's `application_id` of a Paydesk journal ("PDJL").
pub const APPLICATION_ID: i64 = 0x5044_4a4c;

/// Brings a journal to the current schema, step by step, in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        for step in MIGRATIONS
            .iter()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            for piece in *step {
                match piece {
                    Sql(sql) => tx.execute_batch(sql)?,
                    Run(fill) => fill(&tx)?,
                }
            }
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()
}

/// Writes the tables of a journal from before versions were kept, as an old Paydesk left it.
#[cfg(test)]
pub(super) fn write_version_zero(conn: &Connection) {
    for piece in MIGRATIONS[0] {
        if let Sql(sql) = piece {
            conn.execute_batch(sql).unwrap();
        }
    }
}

/// Writes a journal as the Paydesk of schema `version` left it (steps before `version` run).
#[cfg(test)]
pub(super) fn write_version(conn: &mut Connection, version: usize) {
    let tx = conn.transaction().unwrap();
    for step in &MIGRATIONS[..version] {
        for piece in *step {
            match piece {
                Sql(sql) => tx.execute_batch(sql).unwrap(),
                Run(fill) => fill(&tx).unwrap(),
            }
        }
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    tx.pragma_update(None, "user_version", i64::try_from(version).unwrap())
        .unwrap();
    tx.commit().unwrap();
}
