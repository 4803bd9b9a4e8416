//! Hearing the team: LISTEN/NOTIFY on a second connection, so a console updates when another
//! operator acts, without polling.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::TeamError;
use super::connect::{TeamUrl, connect, off_runtime};
use super::held::Held;
use super::store::{TeamEvent, db_error};
use crate::secret::Secret;

/// A second connection that hears what every operator does (LISTEN/NOTIFY: the server tells,
/// nothing polls).
pub struct TeamListener {
    client: Held,
}

impl TeamListener {
    pub fn open(url: &TeamUrl, password: Option<&Secret>) -> Result<TeamListener, TeamError> {
        let mut held = Held::new(connect(url, password)?);
        let client = held.get()?;
        off_runtime(|| {
            client
                .batch_execute("LISTEN paydesk_journal")
                .map_err(db_error)
        })?;
        Ok(TeamListener { client: held })
    }

    /// Waits up to `timeout` for the next event; `Ok(None)` when none came. An event whose
    /// text does not read is skipped (it only says "look again").
    pub fn next(&mut self, timeout: Duration) -> Result<Option<TeamEvent>, TeamError> {
        let client = self.client.get()?;
        off_runtime(move || {
            let mut notes = client.notifications();
            let mut iter = notes.timeout_iter(timeout);
            match iter.next().map_err(db_error)? {
                Some(n) => Ok(Some(serde_json::from_str(n.payload()).unwrap_or(
                    TeamEvent {
                        audit_id: 0,
                        merchant: None,
                        action: "changed".into(),
                        actor: String::new(),
                    },
                ))),
                None => Ok(None),
            }
        })
    }
}
