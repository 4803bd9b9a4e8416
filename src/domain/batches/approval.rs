//! Four-eyes approval of GatePay batches on a team journal, as for CNY payouts
//! (`payouts::approval`): a batch the team's rule holds back waits for an operator other than
//! the one who recorded it; once approved, the approver's Paydesk sends it at once (under its
//! own batch ID, claimed like any send); once rejected, it is never sent. The database refuses
//! the rest (see `journal::team`): this only asks and shows.

use super::{BatchDesk, BatchEntry, BatchError, SentBatch};
use crate::domain::journal::JournalError;
use crate::domain::journal::team::{Approval, BatchApprovalRule};
use crate::domain::payouts::approval::NO_TEAM;
use crate::lock_unpoisoned as lock;

impl BatchDesk {
    /// Runs `f` on the team journal, or says approval needs one.
    fn on_team<T>(
        &self,
        f: impl FnOnce(
            &crate::domain::journal::team::TeamJournal,
        ) -> Result<T, crate::domain::journal::team::TeamError>,
    ) -> Result<T, BatchError> {
        let journal = lock(&self.journal);
        let team = journal
            .team()
            .ok_or_else(|| BatchError::NotAllowed(NO_TEAM.into()))?;
        Ok(f(team).map_err(JournalError::from)?)
    }

    /// The batches of this GatePay client waiting for a second operator, oldest first.
    pub fn pending_approvals(&self) -> Result<Vec<BatchEntry>, BatchError> {
        self.on_team(|t| t.pending_batches(&self.merchant))
    }

    /// The team's rules for this client's batches (none on a desktop journal).
    pub fn approval_rules(&self) -> Result<Vec<BatchApprovalRule>, BatchError> {
        if lock(&self.journal).team().is_none() {
            return Ok(Vec::new());
        }
        self.on_team(|t| t.batch_approval_rules(&self.merchant))
    }

    /// Approves a batch another operator recorded, then sends it (a batch recorded for
    /// another gateway address is left to that address's profile).
    pub async fn approve(
        &self,
        batch_id: &str,
        reason: Option<&str>,
    ) -> Result<SentBatch, BatchError> {
        let entry =
            self.on_team(|t| t.decide_batch(&self.merchant, batch_id, Approval::Approved, reason))?;
        if let Some(why) = entry.elsewhere(&self.origin) {
            return Err(BatchError::NotAllowed(format!("approved; {why}")));
        }
        let sent = self.send(batch_id, entry.body).await?;
        Ok(self.audited(sent, "gatepay batch sent after approval"))
    }

    /// Rejects a batch another operator recorded, with the reason: it is never sent.
    pub fn reject(&self, batch_id: &str, reason: &str) -> Result<BatchEntry, BatchError> {
        self.on_team(|t| t.decide_batch(&self.merchant, batch_id, Approval::Rejected, Some(reason)))
    }
}
