//! Where the rows of an import stand, as the CLI and the console say it.

use serde::Serialize;

use crate::domain::journal::UNVERIFIED_MEANING;

/// Where the rows of an import stand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    #[serde(rename = "batch_id")]
    pub import_id: String,
    pub payouts: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Outcome unknown, being checked.
    pub unknown: usize,
    /// Queued or never created: sent by the next run of the same file.
    pub not_sent: usize,
    /// Waiting for a second operator's approval, or rejected by one (team journal): not sent.
    pub held_for_approval: usize,
    /// Whose last gateway answer failed its signature check (counted in their state too).
    pub unverified: usize,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Batch {}: {} accepted, {} refused, {} unknown (being checked), {} not sent yet",
            self.import_id, self.accepted, self.rejected, self.unknown, self.not_sent
        )?;
        if self.held_for_approval > 0 {
            write!(
                f,
                "; {} held for a second operator's approval",
                self.held_for_approval
            )?;
        }
        if self.unverified > 0 {
            write!(
                f,
                "; {} with a reply that {UNVERIFIED_MEANING}",
                self.unverified
            )?;
        }
        Ok(())
    }
}
