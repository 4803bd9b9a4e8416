//! The team journal: the payout journal on a shared PostgreSQL server, so that a team of
//! operators on several desktops sees one set of intents, one duplicate check, one audit
//! chain, and so that the database itself enforces four-eyes approval.
//!
//! Identity comes from the database: every intent, approval, claim, send and audit entry
//! records `session_user`, the role the operator connected as, never a name typed on the
//! desktop. The rules that matter (who may approve, what may be sent, how the audit chain
//! grows) are triggers and grants in the schema (`schema.sql`), so that no client, patched or
//! not, can get round them with the grants an operator's role holds.

mod batches;
pub mod connect;
mod duplicates;
mod follow;
mod held;
mod listen;
mod lock;
pub mod migrate;
mod schema;
mod sending;
mod store;
#[doc(hidden)]
pub mod testing;

pub use batches::BatchApprovalRule;
pub use connect::{SslMode, TeamUrl};
pub use listen::TeamListener;
pub use lock::TeamLock;
pub use schema::{TEAM_SCHEMA_VERSION, install_schema};
pub use store::{
    Approval, ApprovalRule, PendingApproval, TeamEntry, TeamEvent, TeamInfo, TeamJournal,
};

/// Why the team journal did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// The address of the team journal is not usable as written.
    #[error("the team journal address is not usable: {0}")]
    Url(String),
    /// The server cannot be reached or refused the connection: nothing can be sent until it
    /// is back (nothing falls back to a local journal).
    #[error(
        "the team journal at {target} cannot be reached: {why}; nothing can be sent until it is back"
    )]
    Unreachable { target: String, why: String },
    /// The database refused what was asked: a rule of the team journal (four-eyes approval,
    /// an ID already recorded, a role without the grant).
    #[error("the team journal refused it: {0}")]
    Refused(String),
    #[error("the team journal failed: {0}")]
    Db(String),
    #[error("the team journal holds something it cannot read: {0}")]
    Corrupt(String),
    #[error(
        "the team journal on this server was set up by a newer Paydesk (schema version {found}; this one knows up to {supported}): use that newer Paydesk"
    )]
    NewerSchema { found: i64, supported: i64 },
    #[error("the team journal on this server is not set up yet: {0}")]
    NotSetUp(String),
}

#[cfg(test)]
mod tests;
