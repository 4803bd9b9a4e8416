//! Where an import stands for the process that ran it: rows another live process (a console
//! or another command) is sending are that process's to learn and report, never counted as an
//! unknown outcome of this one. Also what importing a file again will do, for its review. The
//! one reading for the CLI and the console.

use std::fmt;

use serde::Serialize;

use super::BulkPlan;
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

/// A file whose rows are already in the journal: importing it again resumes it, and none of
/// those rows is sent again. A review says so, or "no likely duplicate" and "Send N payouts"
/// read as if the file had never been paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportedBefore {
    /// The rows of the file.
    pub rows: usize,
    /// Where its rows in the journal stand.
    pub summary: ImportSummary,
}

impl ImportedBefore {
    /// The rows this import will send: those not in the journal, and those recorded but never
    /// created at the gateway.
    pub fn left_to_send(&self) -> usize {
        self.rows.saturating_sub(self.summary.payouts) + self.summary.not_sent
    }
}

impl fmt::Display for ImportedBefore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        write!(
            f,
            "This file was imported before (import {}): {} of its {} payout(s) are in the journal \
             ({} accepted, {} refused, {} unknown, being checked) and none of them is paid again; ",
            s.import_id, s.payouts, self.rows, s.accepted, s.rejected, s.unknown
        )?;
        match self.left_to_send() {
            0 => write!(f, "nothing is left to send"),
            n => write!(f, "{n} payout(s) not yet created are sent"),
        }
    }
}

impl PayoutDesk {
    /// Whether the rows of `plan` were imported before, and where they stand (`None`: a new
    /// import).
    pub fn imported_before(&self, plan: &BulkPlan) -> Result<Option<ImportedBefore>, PayoutError> {
        let summary = self.import_summary(&plan.import_id)?;
        Ok((summary.payouts > 0).then(|| ImportedBefore {
            rows: plan.len(),
            summary,
        }))
    }

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
