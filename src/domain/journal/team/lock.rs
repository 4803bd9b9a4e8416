//! The team's recording lock: a PostgreSQL advisory lock, held by a short connection of its
//! own for as long as a likely-duplicate check and the record it allowed take, so that two
//! operators on two desktops cannot both find nothing and both record the same payment.

use super::TeamError;
use super::connect::{TeamUrl, connect, off_runtime};
use super::store::db_error;
use crate::secret::Secret;

/// The advisory lock's key (one for the whole team journal: recording is short).
const RECORDING_KEY: i64 = 7_305_942;

/// Held while its connection lives; the server releases the lock when the connection ends,
/// even if this Paydesk dies.
pub struct TeamLock {
    client: Option<postgres::Client>,
}

impl std::fmt::Debug for TeamLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TeamLock")
    }
}

impl TeamLock {
    /// Waits for the lock (another operator holds it only while checking and recording).
    pub fn take(url: &TeamUrl, password: Option<&Secret>) -> Result<TeamLock, TeamError> {
        let mut client = connect(url, password)?;
        off_runtime(|| {
            client
                .execute("SELECT pg_advisory_lock($1)", &[&RECORDING_KEY])
                .map_err(db_error)
        })?;
        Ok(TeamLock {
            client: Some(client),
        })
    }
}

impl Drop for TeamLock {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Closing the connection releases the lock; the blocking client closes off the
            // async runtime.
            off_runtime(move || drop(client));
        }
    }
}
