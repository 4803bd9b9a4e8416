//! Where an import stands for the process that ran it: rows another live process (a console
//! or another command) is sending are that process's to learn and report, never counted as an
//! unknown outcome of this one. The one reading for the CLI and the console.

use std::fmt;

use serde::Serialize;

use crate::domain::journal::SentElsewhere;
use crate::domain::payouts::{ImportSummary, PayoutDesk, PayoutError};
use crate::lock_unpoisoned as lock;

/// An import's rows by state, without those another process is sending, and those rows.
#[derive(Clone, Debug, Serialize)]
pub struct ImportStanding {
    #[serde(flatten)]
    pub summary: ImportSummary,
    pub being_sent_elsewhere: Vec<SentElsewhere>,
}

impl ImportStanding {
    /// Whether rows of the import are left to another process.
    pub fn has_elsewhere(&self) -> bool {
        !self.being_sent_elsewhere.is_empty()
    }
}

impl fmt::Display for ImportStanding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary)?;
        for e in &self.being_sent_elsewhere {
            write!(f, "\n{}: that process reports its outcome", e.describe())?;
        }
        Ok(())
    }
}

impl PayoutDesk {
    /// Where the rows of an import stand for this process (see the module's rule). Rows whose
    /// claim cannot be read stay counted as unknown.
    pub fn import_standing(&self, import_id: &str) -> Result<ImportStanding, PayoutError> {
        let mut summary = self.import_summary(import_id)?;
        let elsewhere = lock(&self.journal)
            .import_sent_elsewhere(&self.merchant, import_id, self.clock.now_secs())
            .unwrap_or_default();
        summary.unknown = summary.unknown.saturating_sub(elsewhere.len());
        Ok(ImportStanding {
            summary,
            being_sent_elsewhere: elsewhere,
        })
    }
}
